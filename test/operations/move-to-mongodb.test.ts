import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BSON, GridFSBucket, MongoClient, type Db } from 'mongodb';
import mongoose from 'mongoose';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { CaseStudy } from '../../src/case-studies/case-study.model.js';
import { issueCertificate } from '../../src/certificates/certificate.service.js';
import { connectDatabase } from '../../src/db.js';
import { silentLogger } from '../../src/lib/logger.js';
import { backupDatabase } from '../../src/operations/backup.js';
import { createTestApp, testCatalog, testConfig, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import { startStoreProcess, type StoreProcess } from '../helpers/store-process.js';
import { completeTexts, pdfBytes, postForm } from '../case-studies/helpers.js';
import { realCatalog } from '../learning/helpers.js';
import {
  collectionNames,
  indexSpecs,
  rawDocuments,
  readArchive,
  runOperationsCli,
  splitBson,
} from './helpers.js';

const BUCKET = 'case_study_files';

/** Every collection's documents as exact bytes, by _id. */
async function snapshot(db: Db): Promise<Map<string, Map<string, Buffer>>> {
  const all = new Map<string, Map<string, Buffer>>();
  for (const name of await collectionNames(db)) all.set(name, await rawDocuments(db, name));
  return all;
}

async function download(db: Db, fileId: unknown): Promise<Buffer> {
  const parts: Buffer[] = [];
  const bucket = new GridFSBucket(db, { bucketName: BUCKET });
  for await (const chunk of bucket.openDownloadStream(fileId as never)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** A PDF of about `kb` KiB that the upload check accepts (random bytes in a comment). */
function bigPdf(kb: number): Buffer {
  const [head, ...rest] = pdfBytes().toString('latin1').split('\n');
  return Buffer.concat([
    Buffer.from(`${head}\n%`, 'latin1'),
    Buffer.from(randomBytes(kb * 512).toString('hex'), 'latin1'),
    Buffer.from(`\n${rest.join('\n')}`, 'latin1'),
  ]);
}

describe('moving to MongoDB: backup while the app writes, restore into the new server, switch', function () {
  this.timeout(240_000);
  let source: TestApp;
  let target: StoreProcess;
  let dir: string;
  let client: MongoClient;

  after(async () => {
    await client?.close();
    if (mongoose.connection.readyState !== mongoose.ConnectionStates.disconnected)
      await mongoose.disconnect();
    await target?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('restores every record and file of a backup taken under load, and the app runs on the target', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tsunagu-move-'));
    source = await createTestApp();
    const sourceDb = source.database.connection.db!;
    const catalog = await realCatalog();
    const program = catalog.program('basic-training')!;
    const lessons = program.modules.flatMap((m) =>
      m.lessons.map((l) => ({ href: `/learn/${program.id}/${m.id}/${l.id}`, id: l.id })),
    );

    // ── Data written through the app ─────────────────────────────────────────────────────────
    const { user: admin, password: adminPassword } = await buildUser({ roles: ['admin'] });
    const { user: alice, password } = await buildUser();
    const aliceSession = await signIn(source.app, alice, password);
    for (const lesson of lessons.slice(0, 5)) {
      await aliceSession.post(`${lesson.href}/read`).expect(303);
    }
    const attachments = [
      { name: '事例資料1.pdf', bytes: bigPdf(2048) },
      { name: '事例資料2.pdf', bytes: bigPdf(1024) },
    ];
    await postForm(
      aliceSession,
      { texts: await completeTexts(), files: attachments, action: 'submit' },
      303,
    );
    const caseStudy = await CaseStudy.findOne({ userId: alice._id }).lean();
    expect(caseStudy!.draft.attachments).to.have.length(2);
    const certificate = await issueCertificate({
      userId: String(alice._id),
      program: { id: program.id, title: program.title },
      completedAt: new Date('2026-12-01T01:00:00Z'),
      kind: 'manual',
      issuedBy: String(admin._id),
      reason: '集合研修',
    });
    await signIn(source.app, admin, adminPassword);

    // ── Writers racing the backup ────────────────────────────────────────────────────────────
    const signers = await Promise.all(Array.from({ length: 12 }, () => buildUser()));
    const { user: bob, password: bobPassword } = await buildUser();
    const bobSession = await signIn(source.app, bob, bobPassword);
    const { user: carol, password: carolPassword } = await buildUser();
    const carolSession: SignedIn = await signIn(source.app, carol, carolPassword);
    const before = await snapshot(sourceDb);

    let writing = true;
    let writes = 0;
    const signedIn: string[] = [];
    const read: string[] = [];
    /** Each version of Carol's case study, as read after each save (a sequential writer). */
    const carolVersions: Buffer[] = [];
    const writers = [
      (async () => {
        // Sign-ins, one after another: each adds a session.
        for (const { user, password: p } of signers) {
          if (!writing) break;
          await signIn(source.app, user, p);
          signedIn.push(String(user._id));
          writes++;
        }
      })(),
      (async () => {
        // Lessons marked as read in course order: each adds a progress record.
        for (const lesson of lessons) {
          if (!writing) break;
          await bobSession.post(`${lesson.href}/read`).expect(303);
          read.push(lesson.id);
          writes++;
        }
      })(),
      (async () => {
        // A draft saved with one more attachment each time: GridFS files and a case study.
        for (let i = 0; i < 5 && writing; i++) {
          const bytes = bigPdf(256);
          await postForm(
            carolSession,
            { files: [{ name: `資料${i}.pdf`, bytes }], action: 'save' },
            303,
          );
          const raw = await sourceDb
            .collection('case_studies')
            .findOne({ userId: carol._id }, { raw: true });
          carolVersions.push(Buffer.from(raw as unknown as Buffer));
          writes++;
        }
      })(),
    ];
    while (writes < 3) await new Promise((resolve) => setTimeout(resolve, 10));
    const archive = path.join(dir, 'tsunagu-before-move.tar.gz');
    const writesBefore = writes;
    const result = await backupDatabase(sourceDb, archive);
    const writesDuring = writes - writesBefore;
    writing = false;
    await Promise.all(writers);
    expect(writesDuring, 'requests wrote during the backup').to.be.greaterThan(0);
    const after = await snapshot(sourceDb);
    const sourceIndexes = new Map<string, unknown>();
    for (const name of after.keys()) sourceIndexes.set(name, await indexSpecs(sourceDb, name));
    const sourceFiles = new Map<string, Buffer>();
    for (const [, bytes] of after.get(`${BUCKET}.files`)!) {
      const file = BSON.deserialize(bytes);
      sourceFiles.set(String(file._id), await download(sourceDb, file._id));
    }
    await source.close();

    // ── Restore into the new server (npm run db standing in for MongoDB) ─────────────────────
    target = await startStoreProcess(path.join(dir, 'target'));
    const restored = await runOperationsCli(['restore', archive], { MONGODB_URI: target.uri });
    expect(restored.code, restored.stdout + restored.stderr).to.equal(0);
    expect(restored.stdout).to.contain('restore complete into MONGODB_URI');
    client = await MongoClient.connect(target.uri);
    const targetDb = client.db('tsunagu');

    // Byte for byte what the archive holds, collection by collection, with the same indexes.
    const entries = await readArchive(archive);
    const dbName = sourceDb.databaseName;
    const names = await collectionNames(targetDb);
    expect(names).to.deep.equal(result.collections.map((c) => c.name).sort());
    expect(names).to.include.members([
      'users',
      'sessions',
      'lesson_progress',
      'case_studies',
      'certificates',
      `${BUCKET}.files`,
      `${BUCKET}.chunks`,
    ]);
    const restoredDocs = new Map<string, Map<string, Buffer>>();
    for (const name of names) {
      const docs = await rawDocuments(targetDb, name);
      restoredDocs.set(name, docs);
      const archived = splitBson(entries.get(`${dbName}/${name}.bson`)!);
      expect(docs.size, name).to.equal(archived.length);
      for (const bytes of archived) {
        const id = [...docs].find(([, b]) => b.equals(bytes));
        expect(id, `${name}: an archived document restored exactly`).to.not.equal(undefined);
      }
      expect(await indexSpecs(targetDb, name), name).to.deep.equal(sourceIndexes.get(name));
    }

    // Against the source: a document no request touched is there exactly; one written during
    // the backup is there as it was before or after, or (inserted) absent — never half.
    let racing = 0;
    let known = 0;
    for (const name of new Set([...before.keys(), ...after.keys()])) {
      const was = before.get(name) ?? new Map<string, Buffer>();
      const now = after.get(name) ?? new Map<string, Buffer>();
      const got = restoredDocs.get(name) ?? new Map<string, Buffer>();
      for (const [id, bytes] of was) {
        if (now.get(id)?.equals(bytes)) {
          expect(got.get(id)?.equals(bytes), `${name} ${id} untouched`).to.equal(true);
        }
      }
      for (const [id, bytes] of got) {
        const untouched = was.get(id) && now.get(id)?.equals(was.get(id)!);
        if (untouched) continue;
        racing++;
        // Written during the backup: any version it had then (a session made and dropped by a
        // sign-in, a progress record between two reads), whole. Versions seen between two
        // requests of a writer are counted, to show the comparison finds them.
        if ([was.get(id), now.get(id), ...carolVersions].some((b) => b?.equals(bytes))) known++;
        expect(() => BSON.deserialize(bytes)).to.not.throw();
      }
    }
    expect(racing, 'documents written during the backup').to.be.greaterThan(0);
    expect(known, 'of them, versions seen before, between or after the requests').to.be.greaterThan(
      0,
    );

    // Each collection is one instant: what a sequential writer did is in it up to a point.
    const restoredSessions = [...restoredDocs.get('sessions')!.values()].map((b) =>
      JSON.stringify(BSON.deserialize(b)),
    );
    const signedInRestored = signedIn.map((id) => restoredSessions.some((s) => s.includes(id)));
    expect(signedInRestored, 'sign-ins restored: a prefix').to.deep.equal(
      [...signedInRestored].sort((a, b) => Number(b) - Number(a)),
    );
    const bobRead = new Set(
      [...restoredDocs.get('lesson_progress')!.values()]
        .map((b) => BSON.deserialize(b))
        .filter((p) => String(p.userId) === String(bob._id) && p.readAt)
        .map((p) => p.lessonId as string),
    );
    expect(
      read.filter((id) => bobRead.has(id)),
      'lessons read: a prefix',
    ).to.deep.equal(read.slice(0, bobRead.size));

    // Every file byte for byte; every attachment a restored case study names is there.
    for (const [, bytes] of restoredDocs.get(`${BUCKET}.files`)!) {
      const file = BSON.deserialize(bytes);
      const copy = await download(targetDb, file._id);
      expect(copy.equals(sourceFiles.get(String(file._id))!), String(file._id)).to.equal(true);
    }
    const restoredFileIds = new Set(
      [...restoredDocs.get(`${BUCKET}.files`)!.values()].map((b) =>
        String(BSON.deserialize(b)._id),
      ),
    );
    for (const [, bytes] of restoredDocs.get('case_studies')!) {
      for (const a of (BSON.deserialize(bytes).draft?.attachments ?? []) as { fileId: unknown }[]) {
        expect(restoredFileIds.has(String(a.fileId)), `attachment ${String(a.fileId)}`).to.equal(
          true,
        );
      }
    }

    // ── Switch: the app on the target ────────────────────────────────────────────────────────
    const config = testConfig({ MONGODB_URI: target.uri });
    const database = await connectDatabase({ config, logger: silentLogger });
    try {
      expect(database.name).to.equal('tsunagu');
      const app = createApp({
        config,
        logger: silentLogger,
        database,
        catalog: await testCatalog(config),
      });
      const session = await signIn(app, alice, password);
      const pdf = await session.get(`/certificates/${String(certificate._id)}/pdf`).expect(200);
      expect(pdf.headers['content-type']).to.match(/^application\/pdf/);
      expect((pdf.body as Buffer).subarray(0, 5).toString()).to.equal('%PDF-');
      for (const [i, attachment] of caseStudy!.draft.attachments.entries()) {
        const file = await session
          .get(`/case-studies/${String(caseStudy!._id)}/files/${String(attachment.fileId)}`)
          .buffer(true)
          .parse((res, done) => {
            const parts: Buffer[] = [];
            res.on('data', (c: Buffer) => parts.push(c));
            res.on('end', () => done(null, Buffer.concat(parts)));
          })
          .expect(200);
        expect((file.body as Buffer).equals(attachments[i].bytes), attachment.name).to.equal(true);
      }
      const progress = await session.get('/learn/me').expect(200);
      expect(progress.text).to.contain('修了証書');
      await request(app).get('/healthz').expect(200, { status: 'ok' });
    } finally {
      await database.close();
    }
  });
});
