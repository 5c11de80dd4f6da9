import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import { copyCourses, editFile } from './helpers.js';

describe('several programs in COURSES_DIR', () => {
  let dir: string;
  let t: TestApp;
  before(async () => {
    dir = copyCourses();
    cpSync(path.join(dir, 'basic-training'), path.join(dir, 'follow-up'), { recursive: true });
    editFile(path.join(dir, 'follow-up', 'program.yaml'), /^id: basic-training$/m, 'id: follow-up');
    editFile(
      path.join(dir, 'follow-up', 'program.yaml'),
      /^title: .*$/m,
      'title: フォローアップ研修',
    );
    t = await createTestApp({ COURSES_DIR: dir });
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the programs on /learn and keeps progress apart per program', async () => {
    const { user, password } = await buildUser({ roles: ['trainee'] });
    const me = await signIn(t.app, user, password);
    let res = await me.get('/learn').expect(200);
    expect(res.text).to.contain('href="/learn/basic-training"');
    expect(res.text).to.contain('href="/learn/follow-up">フォローアップ研修');

    await me.post('/learn/follow-up/understanding/numbers/read').expect(303);
    res = await me.get('/learn/follow-up').expect(200);
    expect(res.text).to.contain('レッスン 1 / ');
    res = await me.get('/learn/basic-training').expect(200);
    expect(res.text).not.to.contain('レッスン 1 / ');
    const mine = await me.get('/learn/me').expect(200);
    expect(mine.text).to.contain('フォローアップ研修');
  });
});
