import { Writable } from 'node:stream';
import { expect } from 'chai';
import request from 'supertest';
import { createLogger } from '../../src/lib/logger.js';
import type { Mailer } from '../../src/mail/mailer.js';
import { Notification } from '../../src/notifications/notification.model.js';
import {
  configureNotifications,
  notify,
  notifyAdmins,
  unreadCount,
} from '../../src/notifications/notifications.service.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { readOutbox, signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

/** The header's unread figure, or 0 when the page shows none. */
function headerCount(html: string): number {
  const match = /class="badge badge--count">(\d+)/.exec(html);
  return match ? Number(match[1]) : 0;
}

/** The ids of the notifications listed on /notifications, in page order. */
function listedIds(html: string): string[] {
  return [...html.matchAll(/action="\/notifications\/([0-9a-f]{24})\/open"/g)].map((m) => m[1]);
}

async function mailsTo(t: TestApp, address: string) {
  return (await readOutbox(t.config)).filter((mail) => mail.to.includes(address));
}

describe('notifications', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp({ BASE_URL: 'https://tsunagu.example.jp' });
  });
  after(async () => {
    await t.close();
  });

  async function signedInUser(roles: ('trainee' | 'supervisor' | 'admin')[] = ['trainee']) {
    const { user, password } = await buildUser({ roles });
    const session = await signIn(t.app, user, password);
    return { user, session, id: String(user._id) };
  }

  describe('notify()', () => {
    it('creates one in-app notification per user and mails each a title, a sentence and the absolute link', async () => {
      const supervisor = await signedInUser(['supervisor']);
      const other = await signedInUser(['supervisor']);
      await notify({
        userIds: [supervisor.id, other.id, supervisor.id],
        kind: 'case_study.assigned',
        link: '/review/abc',
      });

      expect(await Notification.countDocuments({ userId: supervisor.user._id })).to.equal(1);
      expect(await Notification.countDocuments({ userId: other.user._id })).to.equal(1);
      const mails = await mailsTo(t, supervisor.user.email);
      expect(mails).to.have.length(1);
      expect(mails[0].subject).to.equal('【つなぐ】事例検討レポートの担当になりました');
      expect(mails[0].text).to.contain('https://tsunagu.example.jp/review/abc');
      expect(await mailsTo(t, other.user.email)).to.have.length(1);

      const page = await supervisor.session.get('/notifications').expect(200);
      expect(page.text).to.contain('事例検討レポートの担当になりました');
      expect(page.text).to.contain('notification--unread');
    });

    it('mails nothing of the case: not its text, not the trainee’s name', async () => {
      const supervisor = await signedInUser(['supervisor']);
      const secret = '相談者Aさんの家族構成について';
      const trainee = await buildUser({ name: '長野 太郎' });
      // The review feature passes only ids and a link; the mail is built from the kind alone.
      await notify({
        userIds: [supervisor.id],
        kind: 'case_study.resubmitted',
        link: `/review/${String(trainee.user._id)}`,
      });
      const [mail] = await mailsTo(t, supervisor.user.email);
      expect(mail.text).to.contain('再提出されました');
      expect(mail.text).not.to.contain(secret);
      expect(mail.text).not.to.contain('長野 太郎');
      expect(mail.subject).not.to.contain('長野');
    });

    it('refuses a link that is not a path on the app (no open redirect through /open)', async () => {
      const user = await signedInUser();
      for (const link of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'x']) {
        let refused = false;
        await notify({ userIds: [user.id], kind: 'case_study.approved', link }).catch(() => {
          refused = true;
        });
        expect(refused, link).to.equal(true);
      }
      expect(await Notification.countDocuments({ userId: user.user._id })).to.equal(0);
    });

    it('notifyAdmins() reaches every active administrator and no one else', async () => {
      const admin = await signedInUser(['admin']);
      const { user: suspendedAdmin } = await buildUser({ roles: ['admin'], status: 'suspended' });
      const trainee = await signedInUser();
      await notifyAdmins('case_study.unassigned', '/admin/review');
      expect(await unreadCount(admin.id)).to.equal(1);
      expect(await unreadCount(String(suspendedAdmin._id))).to.equal(0);
      expect(await unreadCount(trainee.id)).to.equal(0);
      const [mail] = await mailsTo(t, admin.user.email);
      expect(mail.subject).to.contain('担当者が決まっていない');
      expect(await mailsTo(t, suspendedAdmin.email)).to.have.length(0);
    });
  });

  describe('the header count', () => {
    it('shows the unread count on every page and follows reading', async () => {
      const trainee = await signedInUser();
      expect(headerCount((await trainee.session.get('/').expect(200)).text)).to.equal(0);
      expect((await trainee.session.get('/').expect(200)).text).to.contain('href="/notifications"');
      await notify({
        userIds: [trainee.id],
        kind: 'case_study.feedback_released',
        link: '/learn/me',
      });
      await notify({ userIds: [trainee.id], kind: 'case_study.approved', link: '/learn/me' });
      expect(headerCount((await trainee.session.get('/').expect(200)).text)).to.equal(2);

      const list = await trainee.session.get('/notifications').expect(200);
      const [newest] = listedIds(list.text);
      await trainee.session
        .post(`/notifications/${newest}/open`)
        .expect(303)
        .expect('location', '/learn/me');
      expect(headerCount((await trainee.session.get('/').expect(200)).text)).to.equal(1);
    });

    it('is corrected by the list when it has drifted (e.g. an unread one expired)', async () => {
      const trainee = await signedInUser();
      await User.updateOne({ _id: trainee.user._id }, { $set: { unreadNotifications: 5 } });
      expect(headerCount((await trainee.session.get('/').expect(200)).text)).to.equal(5);
      const list = await trainee.session.get('/notifications').expect(200);
      expect(headerCount(list.text)).to.equal(0);
      expect(headerCount((await trainee.session.get('/').expect(200)).text)).to.equal(0);
    });

    it('shows more than 99 unread as 99+', async () => {
      const trainee = await signedInUser();
      await User.updateOne({ _id: trainee.user._id }, { $set: { unreadNotifications: 100 } });
      const page = await trainee.session.get('/').expect(200);
      expect(page.text).to.contain('class="badge badge--count">99+<');
    });
  });

  describe('/notifications', () => {
    it('lists newest first, paged by 20', async () => {
      const trainee = await signedInUser();
      for (let i = 0; i < 21; i++)
        await notify({ userIds: [trainee.id], kind: 'case_study.approved', link: `/learn/${i}` });
      const first = await trainee.session.get('/notifications').expect(200);
      const ids = listedIds(first.text);
      expect(ids).to.have.length(20);
      expect(first.text).to.contain('21 件（未読 21 件）');
      const second = await trainee.session.get('/notifications?page=2').expect(200);
      const [oldest] = listedIds(second.text);
      expect(listedIds(second.text)).to.have.length(1);
      const newest = await Notification.findById(ids[0]).lean();
      expect(newest!.link).to.equal('/learn/20');
      expect((await Notification.findById(oldest).lean())!.link).to.equal('/learn/0');
    });

    it('marks one read when opened, once, and leaves the others unread', async () => {
      const trainee = await signedInUser();
      await notify({ userIds: [trainee.id], kind: 'case_study.approved', link: '/learn/me' });
      await notify({ userIds: [trainee.id], kind: 'case_study.approved', link: '/learn/me' });
      const [id, otherId] = listedIds((await trainee.session.get('/notifications')).text);
      await trainee.session.post(`/notifications/${id}/open`).expect(303);
      const readAt = (await Notification.findById(id).lean())!.readAt;
      expect(readAt).to.be.instanceOf(Date);
      await trainee.session.post(`/notifications/${id}/open`).expect(303);
      expect((await Notification.findById(id).lean())!.readAt).to.deep.equal(readAt);
      expect((await Notification.findById(otherId).lean())!.readAt).to.equal(null);
      expect(await unreadCount(trainee.id)).to.equal(1);
    });

    it('すべて既読にする marks all read', async () => {
      const trainee = await signedInUser();
      await notify({ userIds: [trainee.id], kind: 'case_study.approved', link: '/learn/me' });
      await notify({ userIds: [trainee.id], kind: 'case_study.approved', link: '/learn/me' });
      const list = await trainee.session.get('/notifications').expect(200);
      expect(list.text).to.contain('すべて既読にする');
      await trainee.session
        .post('/notifications/read-all')
        .expect(303)
        .expect('location', '/notifications');
      expect(await unreadCount(trainee.id)).to.equal(0);
      const after = await trainee.session.get('/notifications').expect(200);
      expect(after.text).not.to.contain('notification--unread');
      expect(after.text).to.contain('すべてのお知らせを既読にしました。');
      expect(headerCount(after.text)).to.equal(0);
    });

    it('answers 404 for another user’s notification, also to an administrator, and changes nothing', async () => {
      const owner = await signedInUser();
      const stranger = await signedInUser();
      const admin = await signedInUser(['admin']);
      await notify({ userIds: [owner.id], kind: 'case_study.approved', link: '/learn/me' });
      const [id] = listedIds((await owner.session.get('/notifications')).text);
      await stranger.session.post(`/notifications/${id}/open`).expect(404);
      await admin.session.post(`/notifications/${id}/open`).expect(404);
      await stranger.session.post('/notifications/000000000000000000000000/open').expect(404);
      await stranger.session.post('/notifications/not-an-id/open').expect(404);
      expect((await Notification.findById(id).lean())!.readAt).to.equal(null);
      expect(listedIds((await stranger.session.get('/notifications')).text)).to.deep.equal([]);
    });

    it('sends anonymous visitors to the login page', async () => {
      await request(t.app)
        .get('/notifications')
        .expect(302)
        .expect('location', /^\/login/);
    });
  });

  describe('the mail setting on /account', () => {
    it('turned off: no mail, the in-app notification still comes; turned on again: mail again', async () => {
      const supervisor = await signedInUser(['supervisor']);
      const account = await supervisor.session.get('/account').expect(200);
      expect(account.text).to.match(/name="notificationMail" value="on" checked/);

      await supervisor.session
        .post('/account/notification-mail', {})
        .expect(303)
        .expect('location', '/account#notifications');
      expect((await User.findById(supervisor.user._id).lean())!.notificationMail).to.equal(false);
      const off = await supervisor.session.get('/account').expect(200);
      expect(off.text).to.match(/name="notificationMail" value="on">/);
      expect(off.text).to.contain('お知らせのメールを止めました。');

      await notify({ userIds: [supervisor.id], kind: 'case_study.assigned', link: '/review/1' });
      expect(await mailsTo(t, supervisor.user.email)).to.have.length(0);
      expect(await unreadCount(supervisor.id)).to.equal(1);
      expect(headerCount((await supervisor.session.get('/').expect(200)).text)).to.equal(1);

      await supervisor.session
        .post('/account/notification-mail', { notificationMail: 'on' })
        .expect(303);
      await notify({ userIds: [supervisor.id], kind: 'case_study.assigned', link: '/review/1' });
      expect(await mailsTo(t, supervisor.user.email)).to.have.length(1);
    });

    it('refuses the form without the CSRF token', async () => {
      const supervisor = await signedInUser(['supervisor']);
      await supervisor.session.agent
        .post('/account/notification-mail')
        .type('form')
        .send({})
        .expect(403);
      expect((await User.findById(supervisor.user._id).lean())!.notificationMail).to.equal(true);
    });
  });

  it('keeps notifications a year (a TTL index on createdAt)', async () => {
    // mongoose builds indexes (autoIndex) once per process, in the first test database only.
    await Notification.createIndexes();
    const indexes = await Notification.collection.indexes();
    const ttl = indexes.find((index) => index.expireAfterSeconds !== undefined);
    expect(ttl?.key).to.deep.equal({ createdAt: 1 });
    expect(ttl?.expireAfterSeconds).to.equal(365 * 24 * 60 * 60);
  });
});

describe('notify() when a mail cannot be sent', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('does not throw, still makes the in-app notification, and logs no address', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const { user } = await buildUser({ roles: ['supervisor'], email: 'refused@example.jp' });
    const mailer: Mailer = {
      mode: 'smtp',
      outboxDir: t.config.dataDir,
      send: () => Promise.reject(new Error('550 mailbox refused@example.jp unavailable')),
    };
    configureNotifications({
      mailer,
      config: t.config,
      logger: createLogger({ level: 'info', destination }),
    });
    await notify({ userIds: [String(user._id)], kind: 'case_study.assigned', link: '/review/x' });
    expect(await unreadCount(String(user._id))).to.equal(1);
    expect(lines.join('')).to.contain('notification mail not sent');
    expect(lines.join('')).not.to.contain('refused@example.jp');
  });
});
