import { expect } from 'chai';
import { Certificate } from '../../src/certificates/certificate.model.js';
import {
  certificatesForUsers,
  issueCertificate,
  revokeCertificate,
} from '../../src/certificates/certificate.service.js';
import { Notification } from '../../src/notifications/notification.model.js';
import { Organisation } from '../../src/organisations/organisation.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { buildMunicipality, buildUser } from '../helpers/factories.js';

const PROGRAM = { id: 'basic-training', title: 'ひきこもり支援者 多職種基礎研修' };
const OTHER = { id: 'follow-up', title: 'フォローアップ研修' };

describe('certificate service', function () {
  this.timeout(30_000);
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('takes the name, organisation and area at issue, and notifies the holder', async () => {
    const nagano = await buildMunicipality('長野市');
    const organisation = await Organisation.create({
      name: '長野市 福祉課',
      sector: '行政',
      municipalityId: nagano._id,
    });
    const { user } = await buildUser({ municipality: nagano, name: '齋藤 邉' });
    await user.updateOne({ organisationId: organisation._id });
    const certificate = await issueCertificate({
      userId: String(user._id),
      program: PROGRAM,
      completedAt: new Date('2026-12-01T01:00:00Z'),
      kind: 'manual',
      issuedBy: String(user._id),
      reason: '集合研修',
    });
    expect(certificate).to.include({
      name: '齋藤 邉',
      organisationName: '長野市 福祉課',
      programTitle: PROGRAM.title,
      issueReason: '集合研修',
      kind: 'manual',
    });
    expect(String(certificate.municipalityId)).to.equal(String(nagano._id));
    expect(String(certificate.regionId)).to.equal(String(nagano.regionId));
    const notes = await Notification.find({ userId: user._id }).lean();
    expect(notes.map((n) => n.kind)).to.deep.equal(['certificate.issued']);
  });

  it('certificatesForUsers gives the valid certificates by user, optionally of one program', async () => {
    const [a, b, c] = await Promise.all([buildUser(), buildUser(), buildUser()]);
    const issue = (userId: unknown, program = PROGRAM) =>
      issueCertificate({
        userId: String(userId),
        program,
        completedAt: new Date(),
        kind: 'automatic',
      });
    await issue(a.user._id);
    await issue(a.user._id, OTHER);
    const revoked = await issue(b.user._id);
    await revokeCertificate({
      certificate: revoked,
      actorId: String(a.user._id),
      reason: '誤発行',
    });

    const all = await certificatesForUsers([
      a.user._id,
      String(b.user._id),
      c.user._id,
      'not-an-id',
    ]);
    expect([...all.keys()]).to.deep.equal([String(a.user._id)]);
    expect(
      all
        .get(String(a.user._id))!
        .map((s) => s.programId)
        .sort(),
    ).to.deep.equal([PROGRAM.id, OTHER.id]);
    const one = await certificatesForUsers([a.user._id], OTHER.id);
    expect(one.get(String(a.user._id))!.map((s) => s.programTitle)).to.deep.equal([OTHER.title]);
    expect((await certificatesForUsers([])).size).to.equal(0);
    // Revocation sets valid and revokedAt together.
    const stored = await Certificate.findById(revoked._id).lean();
    expect(stored!.valid).to.equal(false);
    expect(stored!.revokedAt).to.be.instanceOf(Date);
  });
});
