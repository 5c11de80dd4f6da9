import { expect } from 'chai';
import { recordAudit } from '../../src/audit/audit.service.js';
import { formatDetails } from '../../src/admin/audit.service.js';
import { createInvitation } from '../../src/users/invitations.service.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent, signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

describe('audit log in words (/admin/audit)', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('shows targets and details as Japanese, without hashes, ids or codes', async () => {
    const a = await buildUser({ roles: ['admin'] });
    const admin = await signIn(t.app, a.user, a.password);
    // A failed sign-in (recorded with a hash of the address and the code 'invalid').
    const { agent, csrfToken } = await anonymousAgent(t.app);
    await agent
      .post('/login')
      .type('form')
      .send({ email: a.user.email, password: 'not-the-password-0', _csrf: csrfToken })
      .expect(401);
    const { invitation } = await createInvitation({
      email: 'koshoku@example.jp',
      roles: ['trainee'],
      municipalityId: null,
      invitedBy: String(a.user._id),
      prefill: {
        name: '更埴 次郎',
        nameKana: 'こうしょく じろう',
        profession: '',
        organisationId: null,
      },
    });
    await recordAudit({
      actorId: String(a.user._id),
      action: 'invitation.created',
      targetType: 'Invitation',
      targetId: invitation._id,
      details: { roles: ['trainee'] },
    });

    const page = await admin.get('/admin/audit').expect(200);
    expect(page.text).to.contain('理由：パスワードまたはメールアドレスの誤り');
    expect(page.text).to.contain('招待：更埴 次郎（受講者）');
    const main = page.text.slice(page.text.indexOf('<main'), page.text.indexOf('</main>'));
    expect(main).not.to.match(/emailHash|invalid|Invitation|[0-9a-f]{24}/);
  });

  it('writes before and after of an edit as a sentence', () => {
    expect(
      formatDetails(
        {
          before: { name: '異動 一郎', municipality: '長野市', organisation: '' },
          after: { name: '異動 一朗', municipality: '松本市', organisation: '松本市 福祉課' },
          municipalityId: { before: '0123456789abcdef01234567', after: '0123456789abcdef01234568' },
        },
        'user.updated',
      ),
    ).to.equal(
      '変更前：氏名 異動 一郎、市町村 長野市、所属機関 （なし） / 変更後：氏名 異動 一朗、市町村 松本市、所属機関 松本市 福祉課',
    );
    expect(formatDetails({ encoding: 'shift_jis', emailHash: 'ab'.repeat(32) })).to.equal(
      '文字コード：Shift_JIS',
    );
  });
});
