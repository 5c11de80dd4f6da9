/**
 * Stored XSS: markup stored through every form that keeps free text — registration, invitation
 * acceptance, the organisation form, a CSV import (cells and the file's name) — and looked for in
 * every page that shows it. Each value must appear escaped (so the page does show it) and never
 * raw; no page may hold an injected element, event handler or javascript: link. Values the forms
 * refuse (kana, e-mail addresses) are checked where the refused form echoes them back.
 */
import { expect } from 'chai';
import request from 'supertest';
import { AuditEvent } from '../../src/audit/audit.model.js';
import { Organisation } from '../../src/organisations/organisation.model.js';
import { createInvitation } from '../../src/users/invitations.service.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent, lastMailTo, linkIn, signIn, type SignedIn } from '../helpers/auth.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';
import { expectEscaped, expectNoLiveMarkup, xss } from './helpers.js';

const PASSWORD = 'xss-test-horse-battery-1';

/** One payload set per way in, so a page showing a value can be told which one it is. */
const registered = xss('registered');
const accepted = xss('accepted');
const organisation = xss('organisation');
const imported = xss('imported');

/** A CSV cell, quoted. */
const cell = (value: string) => `"${value.replaceAll('"', '""')}"`;

describe('security: stored XSS in every free-text field, on every page that shows it', () => {
  let t: TestApp;
  let admin: SignedIn;
  let coordinator: SignedIn;
  let acceptedUser: SignedIn;
  let registeredId: string;
  let acceptedId: string;
  let organisationId: string;
  let batchId: string;
  let badBatchId: string;
  let importedAcceptPath: string;

  before(async function () {
    this.timeout(60_000);
    t = await createTestApp();
    const nagano = await buildMunicipality('長野市');
    const a = await buildUser({ roles: ['admin'] });
    const c = await buildUser({ roles: ['coordinator'], municipality: nagano });
    admin = await signIn(t.app, a.user, a.password);
    coordinator = await signIn(t.app, c.user, c.password);

    // The organisation form (administrators).
    await admin
      .post('/admin/organisations', {
        name: organisation.textarea,
        sector: '行政',
        municipalityId: String(nagano._id),
      })
      .expect(303);
    organisationId = String(
      (await Organisation.findOne({ name: { $eq: organisation.textarea } }))!._id,
    );

    // Registration (anyone): the name, with the organisation above chosen.
    const visitor = await anonymousAgent(t.app);
    await visitor.agent
      .post('/register')
      .type('form')
      .send({
        _csrf: visitor.csrfToken,
        name: registered.script,
        nameKana: 'とうろく',
        email: 'registered@example.jp',
        profession: '保健師',
        municipalityId: String(nagano._id),
        organisationId,
        password: PASSWORD,
        passwordConfirm: PASSWORD,
      })
      .expect(201);
    registeredId = String((await User.findOne({ email: { $eq: 'registered@example.jp' } }))!._id);

    // Invitation acceptance: the invitee's name; they are signed in afterwards.
    const { token } = await createInvitation({
      email: 'accepted@example.jp',
      roles: ['trainee'],
      municipalityId: String(nagano._id),
      invitedBy: String(a.user._id),
    });
    const invitee = await anonymousAgent(t.app);
    await invitee.agent
      .post('/invitations/accept')
      .type('form')
      .send({
        _csrf: invitee.csrfToken,
        token,
        name: accepted.img,
        nameKana: 'しょうたい',
        profession: '保健師',
        organisationId,
        password: PASSWORD,
        passwordConfirm: PASSWORD,
      })
      .expect(302);
    acceptedId = String((await User.findOne({ email: { $eq: 'accepted@example.jp' } }))!._id);
    acceptedUser = await signIn(t.app, { email: 'accepted@example.jp' }, PASSWORD);

    // CSV imports by the administrator: one to confirm (a new organisation too), and one with
    // a bad row in every column, under a file name with markup.
    const header = '氏名,ふりがな,メールアドレス,市町村,所属機関,職種,役割';
    const good = [
      imported.script,
      'いんぽーと',
      'imported@example.jp',
      '長野市',
      imported.js,
      '',
      '',
    ];
    const bad = [
      imported.textarea,
      imported.img,
      'bad-row',
      imported.img,
      '',
      imported.script,
      imported.js,
    ];
    batchId = await importCsv(`${header}\n${good.map(cell).join(',')}\n`, 'roster.csv');
    badBatchId = await importCsv(`${header}\n${bad.map(cell).join(',')}\n`, `${imported.img}.csv`);
  });
  after(async () => {
    await t.close();
  });

  async function importCsv(csv: string, fileName: string): Promise<string> {
    const upload = await admin.agent
      .post('/admin/users/import')
      .field('_csrf', admin.csrfToken)
      .attach('file', Buffer.from(csv), fileName)
      .expect(303);
    return String(upload.headers.location).split('/').pop()!;
  }

  async function page(session: SignedIn | null, path: string, status = 200): Promise<string> {
    const res = await (session ? session.get(path) : request(t.app).get(path)).expect(status);
    expectNoLiveMarkup(res.text, path);
    return res.text;
  }

  it('stored every value as typed (the forms accepted them)', async () => {
    expect((await User.findById(registeredId))!.name).to.equal(registered.script);
    expect((await User.findById(acceptedId))!.name).to.equal(accepted.img);
  });

  it('the users list (administrator and coordinator)', async () => {
    const html = await page(admin, '/admin/users');
    expectEscaped(html, registered.script, 'registered name');
    expectEscaped(html, accepted.img, 'accepted name');
    const own = await page(coordinator, '/admin/users');
    expectEscaped(own, accepted.img, 'accepted name (coordinator)');
  });

  it('the user detail pages, with their organisation and history', async () => {
    const registeredPage = await page(admin, `/admin/users/${registeredId}`);
    expectEscaped(registeredPage, registered.script, 'registered name');
    expectEscaped(registeredPage, organisation.textarea, 'organisation name');
    const acceptedPage = await page(admin, `/admin/users/${acceptedId}`);
    expectEscaped(acceptedPage, accepted.img, 'accepted name');
  });

  it('the approvals list', async () => {
    expectEscaped(await page(coordinator, '/approvals'), registered.script, 'applicant name');
    expectEscaped(await page(admin, '/approvals'), registered.script, 'applicant (admin)');
  });

  it('the organisations list and form, and the registration form’s choices', async () => {
    expectEscaped(await page(admin, '/admin/organisations'), organisation.textarea, 'list');
    expectEscaped(
      await page(admin, `/admin/organisations/${organisationId}/edit`),
      organisation.textarea,
      'edit form',
    );
    expectEscaped(await page(null, '/register'), organisation.textarea, 'registration select');
  });

  it('the audit log (names of actors and targets, details)', async () => {
    expect(await AuditEvent.countDocuments({ action: 'organisation.created' })).to.equal(1);
    const html = await page(admin, '/admin/audit');
    expectEscaped(html, registered.script, 'registered user');
    expectEscaped(html, accepted.img, 'accepted user');
    expectEscaped(html, organisation.textarea, 'organisation in details');
  });

  it('the header, flash and account page of a user with such a name', async () => {
    const home = await page(acceptedUser, '/');
    expectEscaped(home, accepted.img, 'header');
    const account = await page(acceptedUser, '/account');
    expectEscaped(account, accepted.img, 'account name');
    expectEscaped(account, organisation.textarea, 'account organisation');
    // The welcome flash after signing in carries the name too.
    const fresh = await anonymousAgent(t.app);
    await fresh.agent
      .post('/login')
      .type('form')
      .send({ _csrf: fresh.csrfToken, email: 'accepted@example.jp', password: PASSWORD })
      .expect(302);
    const welcomed = await fresh.agent.get('/').expect(200);
    expectNoLiveMarkup(welcomed.text, 'welcome flash');
    expect(welcomed.text).to.contain('ようこそ');
    expectEscaped(welcomed.text, accepted.img, 'welcome flash');
  });

  it('the CSV import preview: every cell, the messages about them, and the file name', async () => {
    const html = await page(admin, `/admin/users/import/${batchId}`);
    expectEscaped(html, imported.script, 'name cell');
    expectEscaped(html, imported.js, 'new organisation cell');
    const bad = await page(admin, `/admin/users/import/${badBatchId}`);
    expectEscaped(bad, imported.textarea, 'name cell of the bad row');
    expectEscaped(bad, imported.img, 'kana and municipality cells, file name');
    expectEscaped(bad, imported.script, 'profession cell');
    expectEscaped(bad, imported.js, 'roles cell');
  });

  it('the invitations list and the invitee’s form prefilled from the import', async () => {
    await admin.post(`/admin/users/import/${batchId}/confirm`).expect(303);
    await page(admin, '/invitations');
    importedAcceptPath = linkIn(
      await lastMailTo(t.config, 'imported@example.jp'),
      '/invitations/accept',
    );
    const accept = await page(null, importedAcceptPath);
    expectEscaped(accept, imported.script, 'prefilled name');
    expectEscaped(accept, imported.js, 'prefilled organisation');
    expectEscaped(await page(admin, '/admin/organisations'), imported.js, 'new organisation');
  });

  it('refused values echoed back by the forms (kana, e-mail addresses, searches)', async () => {
    const visitor = await anonymousAgent(t.app);
    const refused = await visitor.agent
      .post('/register')
      .type('form')
      .send({
        _csrf: visitor.csrfToken,
        name: '名前',
        nameKana: registered.img,
        email: registered.textarea,
        profession: '保健師',
        password: PASSWORD,
        passwordConfirm: PASSWORD,
      })
      .expect(422);
    expectNoLiveMarkup(refused.text, 'registration 422');
    expectEscaped(refused.text, registered.img, 'kana kept');
    expectEscaped(refused.text, registered.textarea, 'email kept');

    const invite = await coordinator
      .post('/invitations', { email: accepted.script, roles: 'trainee' })
      .expect(422);
    expectNoLiveMarkup(invite.text, 'invitation 422');
    expectEscaped(invite.text, accepted.script, 'invitation email kept');

    const login = await visitor.agent
      .post('/login')
      .type('form')
      .send({ _csrf: visitor.csrfToken, email: accepted.img, password: 'wrong-password-1234' });
    expect(login.status).to.be.oneOf([401, 422]);
    expectNoLiveMarkup(login.text, 'login');
    expectEscaped(login.text, accepted.img, 'login email kept');

    const forgot = await visitor.agent
      .post('/password/forgot')
      .type('form')
      .send({ _csrf: visitor.csrfToken, email: accepted.script })
      .expect(422);
    expectNoLiveMarkup(forgot.text, 'forgot');

    for (const path of ['/admin/users', '/admin/organisations', '/admin/audit']) {
      const q = encodeURIComponent(registered.img);
      const html = await page(admin, `${path}?q=${q}&municipalityId=${q}&status=${q}`);
      if (path !== '/admin/audit') expectEscaped(html, registered.img, `${path} search box`);
    }
  });

  it('never turns a javascript: URL into a link after signing in', async () => {
    const next = encodeURIComponent(organisation.js);
    const form = await page(null, `/login?next=${next}`);
    expect(form).not.to.contain('javascript:');
    const visitor = await anonymousAgent(t.app);
    const res = await visitor.agent
      .post('/login')
      .type('form')
      .send({
        _csrf: visitor.csrfToken,
        email: 'accepted@example.jp',
        password: PASSWORD,
        next: organisation.js,
      })
      .expect(302);
    expect(res.headers.location).to.equal('/');
  });
});
