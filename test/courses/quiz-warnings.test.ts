import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import type { QuizQuestion } from '../../src/courses/catalog.types.js';
import {
  moduleMinutesWarning,
  quizFigures,
  quizWarnings,
} from '../../src/courses/quiz-warnings.js';
import { compiled } from '../helpers/compiled.js';
import { copyCourses } from '../learning/helpers.js';

const run = promisify(execFile);

function single(id: string, answer: string, ...texts: string[]): QuizQuestion {
  const options = texts.map((text, i) => ({ id: String.fromCharCode(97 + i), text }));
  return { id, type: 'single', text: '問', options, answer: [answer], explanation: '解説' };
}
function multiple(id: string, answer: string[], count: number): QuizQuestion {
  const options = Array.from({ length: count }, (_, i) => ({
    id: String.fromCharCode(97 + i),
    text: `選択肢${i}`,
  }));
  return { id, type: 'multiple', text: '問', options, answer, explanation: '解説' };
}

describe('quiz warnings for question writers', () => {
  describe('quizFigures()', () => {
    it('counts a single-choice question only when its answer is longer than every other option', () => {
      const figures = quizFigures({
        questions: [
          single('q1', 'b', '短い', 'いちばん長い選択肢', '中くらいの'), // longest
          single('q2', 'a', '同じ長さです', '同じ長さです'), // a tie is no clue
          single('q3', 'a', '短い', 'こちらのほうが長い'),
          single('q4', 'b', '長 い よ う で 短 い', 'こちらが長い選択肢'), // spaces do not count
        ],
      });
      expect(figures).to.deep.include({ single: 4, longestAnswer: ['q1', 'q4'] });
    });

    it('counts multiple-choice questions with fewer than two wrong options', () => {
      const figures = quizFigures({
        questions: [
          multiple('q1', ['a', 'b', 'c'], 4), // one wrong
          multiple('q2', ['a', 'b'], 4), // two wrong
          multiple('q3', ['a', 'b', 'c', 'd'], 4), // none wrong
          multiple('q4', ['a'], 5),
        ],
      });
      expect(figures).to.deep.include({ multiple: 4, fewWrongOptions: ['q1', 'q3'] });
    });
  });

  describe('quizWarnings()', () => {
    it('warns when more than 40% of the single-choice answers are the longest option', () => {
      const longest = (id: string) => single(id, 'a', 'ずっと長い正解の選択肢', '短い', '短め');
      const plain = (id: string) => single(id, 'a', '正解', 'もっと長い誤りの選択肢');
      // 2 of 5 (40%) is allowed; 3 of 5 is not.
      expect(
        quizWarnings({
          questions: ['q1', 'q2'].map(longest).concat(['q3', 'q4', 'q5'].map(plain)),
        }),
      ).to.deep.equal([]);
      const warnings = quizWarnings({
        questions: ['q1', 'q2', 'q3'].map(longest).concat(['q4', 'q5'].map(plain)),
      });
      expect(warnings).to.deep.equal([
        '単一選択 5問のうち 3問で、正解がいちばん長い選択肢です（q1, q2, q3）。長さで正解が分からないよう、2問以下にしてください。',
      ]);
    });

    it('names the multiple-choice questions that have fewer than two wrong options', () => {
      expect(
        quizWarnings({ questions: [multiple('q1', ['a', 'b', 'c'], 4), multiple('q2', ['a'], 3)] }),
      ).to.deep.equal([
        '複数選択 2問のうち 1問で、誤りの選択肢が2つ未満です（q1）。誤りの選択肢を2つ以上にしてください。',
      ]);
    });
  });

  describe('moduleMinutesWarning()', () => {
    it('warns when the module time is not the sum of its lessons', () => {
      const lessons = [{ estimatedMinutes: 10 }, { estimatedMinutes: 12 }] as never;
      expect(moduleMinutesWarning({ estimatedMinutes: 22, lessons })).to.equal(null);
      expect(moduleMinutesWarning({ estimatedMinutes: 25, lessons })).to.equal(
        '単元の所要時間 25分が、レッスンの所要時間の合計 22分と一致しません。',
      );
    });
  });

  describe('npm run courses:check', () => {
    it('reports the figures of every quiz and no warning for the shipped program', async () => {
      const { stdout } = await run(process.execPath, [compiled('src/courses/check.ts')], {
        env: { ...process.env, COURSES_DIR: 'courses' },
      });
      expect(stdout.match(/確認テスト：単一選択 \d+問/g)).to.have.length(8);
      expect(stdout).not.to.contain('注意:');
      expect(stdout).to.contain('注意事項はありません。');
    });

    it('prints the warning of a multiple-choice question keyed to all options but one, and still exits 0', async () => {
      const dir = copyCourses();
      try {
        const file = path.join(dir, 'basic-training', 'modules', '01-understanding', 'quiz.yaml');
        const quiz = parse(readFileSync(file, 'utf8')) as {
          questions: { id: string; type: string; options: { id: string }[]; answer: string[] }[];
        };
        const question = quiz.questions.find((q) => q.type === 'multiple')!;
        question.answer = question.options.slice(1).map((o) => o.id);
        writeFileSync(file, stringify(quiz));
        const { stdout } = await run(process.execPath, [compiled('src/courses/check.ts')], {
          env: { ...process.env, COURSES_DIR: dir },
        });
        expect(stdout).to.match(
          new RegExp(
            `注意: 複数選択 \\d+問のうち 1問で、誤りの選択肢が2つ未満です（${question.id}）`,
          ),
        );
        expect(stdout).to.contain('注意 1件');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
