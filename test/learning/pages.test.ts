import { expect } from 'chai';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import { LessonProgress } from '../../src/learning/lesson-progress.model.js';
import { LearnerProgress } from '../../src/learning/learner-progress.model.js';

describe('learning pages', () => {
  let t: TestApp;
  let me: SignedIn;
  before(async () => {
    t = await createTestApp();
    const { user, password } = await buildUser({ roles: ['trainee'] });
    me = await signIn(t.app, user, password);
  });
  after(async () => {
    await t.close();
  });

  it('sends anonymous visitors to the login page', async () => {
    const { default: request } = await import('supertest');
    const res = await request(t.app).get('/learn').expect(302);
    expect(res.headers.location).to.equal('/login?next=%2Flearn');
  });

  it('shows the program overview with every module not started', async () => {
    const res = await me.get('/learn').expect(200);
    expect(res.text).to.contain('ひきこもり支援者 多職種基礎研修');
    expect(res.text).to.contain('ひきこもりの理解と長野県の現状');
    expect(res.text).to.contain('学習を始める');
    expect(res.text.match(/status--not_started">未着手/g)?.length).to.be.greaterThan(7);
  });

  it('shows a lesson and records the opening', async () => {
    const res = await me.get('/learn/basic-training/understanding/numbers').expect(200);
    expect(res.text).to.contain('数字で見る長野県のひきこもり');
    expect(res.text).to.contain('読了にする');
    expect(await LessonProgress.countDocuments({ lessonId: 'numbers' })).to.equal(1);
    const summary = await LearnerProgress.findOne({}).lean();
    expect(summary?.position?.lessonId).to.equal('numbers');
  });
});
