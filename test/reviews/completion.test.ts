import { expect } from 'chai';
import { CaseStudy } from '../../src/case-studies/case-study.model.js';
import {
  onProgramCompleted,
  type ProgramCompletedEvent,
} from '../../src/learning/program-completion.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import { completeModule, realCatalog } from '../learning/helpers.js';
import { PROGRAM, completeTexts, postForm } from '../case-studies/helpers.js';
import { allLevels, postFeedback } from './helpers.js';

describe('program completion event', () => {
  let t: TestApp;
  const events: ProgramCompletedEvent[] = [];
  let stop: () => void;

  before(async () => {
    t = await createTestApp();
    stop = onProgramCompleted((event) => {
      events.push(event);
    });
  });
  after(async () => {
    stop();
    await t.close();
  });

  it('is emitted by the last lesson or quiz when the case study was approved first', async () => {
    const s = await buildUser({ roles: ['supervisor'], municipality: '長野市' });
    const supervisor = await signIn(t.app, s.user, s.password);
    const u = await buildUser({ municipality: '長野市' });
    const trainee = await signIn(t.app, u.user, u.password);
    await postForm(trainee, { texts: await completeTexts(), action: 'submit' }, 303);
    const caseStudyId = String((await CaseStudy.findOne({ userId: u.user._id }))!._id);
    await postFeedback(
      supervisor,
      caseStudyId,
      { action: 'decide', decision: 'approved', levels: await allLevels() },
      303,
    );
    expect(events).to.have.length(0);

    const modules = (await realCatalog()).program(PROGRAM)!.modules;
    for (const [i, module] of modules.entries()) {
      await completeModule(
        trainee,
        module.id,
        module.lessons.map((l) => l.id),
      );
      if (i < modules.length - 1) expect(events, module.id).to.have.length(0);
    }
    expect(events).to.have.length(1);
    expect(events[0]).to.include({ userId: String(u.user._id), programId: PROGRAM });
  });
});
