import { expect } from 'chai';
import type { Program } from '../../src/courses/catalog.types.js';
import { setCaseStudyApprovalCheck } from '../../src/learning/case-study-hook.js';
import {
  computeProgramProgress,
  type ProgressSummary,
} from '../../src/learning/progress.service.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import { PROGRAM, completeModule, realCatalog } from './helpers.js';

describe('program completion', () => {
  let t: TestApp;
  let program: Program;
  before(async () => {
    t = await createTestApp();
    program = (await realCatalog()).program(PROGRAM)!;
  });
  after(async () => {
    setCaseStudyApprovalCheck(() => Promise.resolve(false));
    await t.close();
  });

  it('needs every lesson, every quiz and, per program.yaml, the approved case study', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const me = await signIn(t.app, user, password);
    for (const module of program.modules) {
      await completeModule(
        me,
        module.id,
        module.lessons.map((l) => l.id),
      );
    }
    let res = await me.get('/learn').expect(200);
    expect(res.text.match(/status status--completed">修了/g)).to.have.length(
      program.modules.length,
    );
    expect(res.text).not.to.contain('すべての課程を修了しました');
    expect(res.text).to.contain('事例検討レポートに取り組む');

    // The case-study feature registers its check; here: approved for this learner only.
    setCaseStudyApprovalCheck((userId, programId) =>
      Promise.resolve(userId === String(user._id) && programId === PROGRAM),
    );
    res = await me.get('/learn').expect(200);
    expect(res.text).to.contain('すべての課程を修了しました');
    expect(res.text).to.contain('learn-summary__percent">100<small>');
    expect(res.text).to.contain('承認済み');
  });

  const summary = (read: string[], passed: string[]): ProgressSummary => ({
    readLessons: read,
    openedModules: [],
    quizzes: Object.fromEntries(
      passed.map((id) => [id, { passed: true, attempts: 1, bestScore: 100 }]),
    ),
    secondsSpent: 0,
    position: null,
    lessonOpenedAt: {},
  });

  it('follows the rule in program.yaml (table)', () => {
    const allLessons = program.modules.flatMap((m) => m.lessons.map((l) => l.id));
    const allQuizzes = program.modules.flatMap((m) => (m.quiz ? [m.quiz.id] : []));
    const withRule = (completion: Program['completion']): Program => ({ ...program, completion });
    const cases: [Program['completion'], string[], string[], boolean, boolean][] = [
      [{ lessons: 'all', quizzes: 'all', caseStudy: 'none' }, allLessons, allQuizzes, false, true],
      [
        { lessons: 'all', quizzes: 'all', caseStudy: 'none' },
        allLessons,
        allQuizzes.slice(1),
        false,
        false,
      ],
      [{ lessons: 'all', quizzes: 'none', caseStudy: 'none' }, allLessons, [], false, true],
      [
        { lessons: 'all', quizzes: 'all', caseStudy: 'approved' },
        allLessons,
        allQuizzes,
        false,
        false,
      ],
      [
        { lessons: 'all', quizzes: 'all', caseStudy: 'approved' },
        allLessons,
        allQuizzes,
        true,
        true,
      ],
      [
        { lessons: 'all', quizzes: 'all', caseStudy: 'none' },
        allLessons.slice(1),
        allQuizzes,
        false,
        false,
      ],
      [{ lessons: 'none', quizzes: 'all', caseStudy: 'none' }, [], allQuizzes, false, true],
    ];
    for (const [rule, read, passed, approved, completed] of cases) {
      const progress = computeProgramProgress(withRule(rule), summary(read, passed), approved);
      expect(
        progress.completed,
        JSON.stringify({ rule, read: read.length, passed: passed.length, approved }),
      ).to.equal(completed);
    }
  });

  it('ignores read marks of lessons no longer in the content', () => {
    const progress = computeProgramProgress(
      program,
      summary(['removed-lesson', 'numbers'], []),
      false,
    );
    expect(progress.doneItems).to.equal(1);
    expect(progress.modules[0].readCount).to.equal(1);
  });
});
