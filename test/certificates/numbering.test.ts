import { expect } from 'chai';
import mongoose, { Types } from 'mongoose';
import { Certificate } from '../../src/certificates/certificate.model.js';
import { issueCertificate, issueOnCompletion } from '../../src/certificates/certificate.service.js';
import {
  AlreadyIssuedError,
  fiscalYearOf,
  formatCertificateNumber,
  insertWithNextSerial,
  newVerificationCode,
} from '../../src/certificates/numbering.js';
import { createTestApp, testServerUri, type TestApp } from '../helpers/app.js';
import { buildUser } from '../helpers/factories.js';

const PROGRAM = { id: 'basic-training', title: 'ひきこもり支援者 多職種基礎研修' };

/** The fields insertWithNextSerial takes, for a made-up holder. */
function attrs(issuedAt: Date, userId = new Types.ObjectId(), name = '長野 花子') {
  return {
    userId,
    programId: PROGRAM.id,
    name,
    organisationName: '',
    municipalityId: null,
    regionId: null,
    organisationId: null,
    programTitle: PROGRAM.title,
    completedAt: issuedAt,
    issuedAt,
    kind: 'automatic' as const,
    issuedBy: null,
    issueReason: null,
    verificationCode: newVerificationCode(),
    valid: true,
    revokedAt: null,
    revokedBy: null,
    revokeReason: null,
  };
}

async function serialsOf(fiscalYear: number): Promise<number[]> {
  const docs = await Certificate.find({ fiscalYear }, { serial: 1, number: 1 }).lean();
  return docs.map((d) => d.serial).sort((a, b) => a - b);
}

const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('certificate numbering', function () {
  this.timeout(60_000);
  let t: TestApp;

  before(async () => {
    t = await createTestApp();
    await Certificate.init();
  });
  after(async () => {
    await t.close();
  });

  it('counts fiscal years from April to March in Japan', () => {
    expect(fiscalYearOf(new Date('2027-03-31T14:59:59Z'))).to.equal(2026); // 23:59 31 March JST
    expect(fiscalYearOf(new Date('2027-03-31T15:00:00Z'))).to.equal(2027); // 00:00 1 April JST
    expect(fiscalYearOf(new Date('2026-04-01T00:00:00Z'))).to.equal(2026);
    expect(fiscalYearOf(new Date('2026-01-10T00:00:00Z'))).to.equal(2025);
  });

  it('formats NAGANO-<fiscal year>-<five digits>', () => {
    expect(formatCertificateNumber(2026, 42)).to.equal('NAGANO-2026-00042');
    expect(formatCertificateNumber(2026, 123456)).to.equal('NAGANO-2026-123456');
  });

  it('gives 50 parallel issues through two connections the serials 1..50, no gap, no duplicate', async () => {
    const other = await mongoose
      .createConnection(await testServerUri(), { dbName: t.database.connection.name })
      .asPromise();
    try {
      const OtherCertificate = other.model('Certificate', Certificate.schema, 'certificates');
      const issuedAt = new Date('2030-06-01T03:00:00Z');
      const docs = await Promise.all(
        oneTo(50).map((i) =>
          insertWithNextSerial(i % 2 ? Certificate : OtherCertificate, attrs(issuedAt)),
        ),
      );
      expect(docs.map((d) => d.serial).sort((a, b) => a - b)).to.deep.equal(oneTo(50));
      expect(await serialsOf(2030)).to.deep.equal(oneTo(50));
      const numbers = new Set(docs.map((d) => d.number));
      expect(numbers.size).to.equal(50);
      expect(numbers.has('NAGANO-2030-00001') && numbers.has('NAGANO-2030-00050')).to.equal(true);
    } finally {
      await other.close();
    }
  });

  it('leaves no gap when an insert fails after choosing its serial', async () => {
    const issuedAt = new Date('2031-06-01T03:00:00Z');
    const holder = new Types.ObjectId();
    await insertWithNextSerial(Certificate, attrs(issuedAt, holder));
    // The same holder again (a second process saw the same completion): refused by the
    // partial unique index after the serial was chosen; the serial is not used up.
    let refused: unknown;
    await insertWithNextSerial(Certificate, attrs(issuedAt, holder)).catch((e: unknown) => {
      refused = e;
    });
    expect(refused).to.be.instanceOf(AlreadyIssuedError);
    // A validation failure (a name over 100 characters) after the serial was chosen: same.
    let invalid: unknown;
    await insertWithNextSerial(
      Certificate,
      attrs(issuedAt, new Types.ObjectId(), 'あ'.repeat(101)),
    ).catch((e: unknown) => {
      invalid = e;
    });
    expect(invalid).to.be.instanceOf(mongoose.Error.ValidationError);
    await insertWithNextSerial(Certificate, attrs(issuedAt));
    expect(await serialsOf(2031)).to.deep.equal([1, 2]);
  });

  it('takes a new verification code when the one drawn is already in use', async () => {
    const first = await insertWithNextSerial(Certificate, attrs(new Date('2032-06-01T03:00:00Z')));
    const clash = {
      ...attrs(new Date('2032-07-01T03:00:00Z')),
      verificationCode: first.verificationCode,
    };
    const second = await insertWithNextSerial(Certificate, clash);
    expect(second.serial).to.equal(2);
    expect(second.verificationCode).to.match(/^[\w-]{24}$/);
    expect(second.verificationCode).not.to.equal(first.verificationCode);
  });

  it('numbers the issues of one process in the order they were asked for', async () => {
    const docs = await Promise.all(
      oneTo(8).map((i) =>
        insertWithNextSerial(
          Certificate,
          attrs(new Date('2033-06-01T03:00:00Z'), undefined, `長野 ${i}`),
        ),
      ),
    );
    expect(docs.map((d) => d.name)).to.deep.equal(oneTo(8).map((i) => `長野 ${i}`));
    expect(docs.map((d) => d.serial)).to.deep.equal(oneTo(8));
  });

  it('keeps the years apart: a new fiscal year starts again at 1', async () => {
    await insertWithNextSerial(Certificate, attrs(new Date('2034-06-01T03:00:00Z')));
    const next = await insertWithNextSerial(Certificate, attrs(new Date('2035-06-01T03:00:00Z')));
    expect([next.fiscalYear, next.serial, next.number]).to.deep.equal([
      2035,
      1,
      'NAGANO-2035-00001',
    ]);
  });

  it('issues one certificate when the completion is seen ten times at once', async () => {
    const { user } = await buildUser();
    const results = await Promise.all(
      oneTo(10).map(() =>
        issueOnCompletion({ userId: String(user._id), program: PROGRAM, completedAt: new Date() }),
      ),
    );
    expect(results.filter((r) => r !== null)).to.have.length(1);
    expect(await Certificate.countDocuments({ userId: user._id })).to.equal(1);
  });

  it('refuses a second valid certificate of the same program (AlreadyIssuedError)', async () => {
    const { user } = await buildUser();
    const input = {
      userId: String(user._id),
      program: PROGRAM,
      completedAt: new Date(),
      kind: 'manual' as const,
    };
    await issueCertificate(input);
    let error: unknown;
    await issueCertificate(input).catch((e: unknown) => (error = e));
    expect(error).to.be.instanceOf(AlreadyIssuedError);
  });
});
