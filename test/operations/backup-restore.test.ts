import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BSON, Decimal128, Double, GridFSBucket, Int32, Long, MongoClient, type Db } from 'mongodb';
import type { Types } from 'mongoose';
import { storeAttachment } from '../../src/case-studies/attachments.js';
import { CaseStudy } from '../../src/case-studies/case-study.model.js';
import { addAttachments } from '../../src/case-studies/case-study.service.js';
import { issueCertificate } from '../../src/certificates/certificate.service.js';
import { markLessonRead, recordLessonOpened } from '../../src/learning/progress.service.js';
import { backupDatabase, type BackupResult } from '../../src/operations/backup.js';
import { RestoreRefused, restoreDatabase } from '../../src/operations/restore.js';
import { startStore, type RunningStore } from '../../src/store/index.js';
import { createTestApp, testCatalog, type TestApp } from '../helpers/app.js';
import { buildUser } from '../helpers/factories.js';
import { collectionNames, indexSpecs, rawDocuments, readArchive, splitBson } from './helpers.js';

const BUCKET = 'case_study_files';

async function download(db: Db, fileId: Types.ObjectId): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of new GridFSBucket(db, { bucketName: BUCKET }).openDownloadStream(
    fileId,
  )) {
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

describe('npm run backup / npm run restore', function () {
  this.timeout(60_000);
  let t: TestApp;
  let source: Db;
  let dir: string;
  let archive: string;
  let backup: BackupResult;
  let target: RunningStore;
  let client: MongoClient;
  let attachment: { fileId: Types.ObjectId; bytes: Buffer };
  let fresh = 0;
  const freshDb = () => client.db(`restored_${++fresh}`);

  before(async () => {
    t = await createTestApp();
    source = t.database.connection.db!;
    // Seeded through the app's own models and services.
    const { user: trainee } = await buildUser();
    const { user: admin } = await buildUser({ roles: ['admin'] });
    const program = (await testCatalog(t.config)).program('basic-training')!;
    const learner = { userId: trainee._id, municipalityId: null, regionId: null };
    const module = program.modules[0];
    await recordLessonOpened(learner, program, module, module.lessons[0]);
    await markLessonRead(learner, program, module, module.lessons[0]);
    const caseStudy = await CaseStudy.create({ userId: trainee._id, programId: program.id });
    // Larger than one GridFS chunk (255 KiB), so the file spans several chunks.
    const bytes = randomBytes(600 * 1024);
    const stored = await storeAttachment(
      caseStudy._id,
      bytes,
      { mime: 'application/pdf', ext: 'pdf' },
      '事例資料.pdf',
    );
    await addAttachments(caseStudy, [stored], 5);
    attachment = { fileId: stored.fileId, bytes };
    await issueCertificate({
      userId: String(trainee._id),
      program: { id: program.id, title: program.title },
      completedAt: new Date('2026-12-01T01:00:00Z'),
      kind: 'manual',
      issuedBy: String(admin._id),
      reason: '集合研修',
    });
    // BSON types a careless restore would change (an integral double read back as a JS number
    // is written again as an int32).
    await source.collection('bson_types').insertOne({
      double: new Double(3),
      int: new Int32(3),
      long: Long.fromNumber(3),
      decimal: Decimal128.fromString('3.10'),
      when: new Date('2026-12-01T00:00:00Z'),
      nested: { list: [new Double(1), 'a', null] },
    });
    dir = await mkdtemp(path.join(tmpdir(), 'tsunagu-backup-'));
    archive = path.join(dir, 'backup.tar.gz');
    backup = await backupDatabase(source, archive);
    target = await startStore({ dataDir: null });
    client = await MongoClient.connect(target.uri);
  });

  after(async () => {
    await client?.close();
    await target?.close();
    await t?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('restores every collection document by document, with its indexes and the GridFS bytes', async () => {
    const names = await collectionNames(source);
    expect(names).to.include.members([
      'users',
      'case_studies',
      `${BUCKET}.files`,
      `${BUCKET}.chunks`,
      'certificates',
    ]);
    const restored = freshDb();
    const result = await restoreDatabase(restored, archive);

    expect(await collectionNames(restored)).to.deep.equal(names);
    for (const name of names) {
      const before = await rawDocuments(source, name);
      const after = await rawDocuments(restored, name);
      expect(after.size, name).to.equal(before.size);
      for (const [id, bytes] of before) {
        // Byte for byte: every field, its order and its BSON type.
        expect(after.get(id)?.equals(bytes), `${name} ${id}`).to.equal(true);
      }
      expect(await indexSpecs(restored, name), name).to.deep.equal(await indexSpecs(source, name));
      const reported = result.collections.find((c) => c.name === name);
      expect(reported?.documents, name).to.equal(before.size);
    }
    expect((await rawDocuments(source, `${BUCKET}.chunks`)).size).to.equal(3);
    expect((await download(restored, attachment.fileId)).equals(attachment.bytes)).to.equal(true);
    const users = result.collections.find((c) => c.name === 'users');
    expect(users?.documents).to.equal(2);
  });

  it('writes mongodump’s layout: <db>/<collection>.bson of concatenated BSON and .metadata.json with the indexes', async () => {
    const files = await readArchive(archive);
    const names = await collectionNames(source);
    const expected = names.flatMap((n) => [
      `${source.databaseName}/${n}.bson`,
      `${source.databaseName}/${n}.metadata.json`,
    ]);
    expect([...files.keys()].sort()).to.deep.equal(expected.sort());
    for (const name of names) {
      const documents = splitBson(files.get(`${source.databaseName}/${name}.bson`)!);
      expect(documents.length, name).to.equal((await rawDocuments(source, name)).size);
      for (const doc of documents) expect(BSON.deserialize(doc)).to.have.property('_id');
      const metadata = BSON.EJSON.parse(
        files.get(`${source.databaseName}/${name}.metadata.json`)!.toString('utf8'),
      ) as { collectionName: string; type: string; indexes: { name: string; key: object }[] };
      expect(metadata.collectionName).to.equal(name);
      expect(metadata.type).to.equal('collection');
      expect(metadata.indexes.map((i) => i.name).sort()).to.deep.equal(
        (await indexSpecs(source, name)).map((i) => i.name as string).sort(),
      );
    }
    // Canonical Extended JSON, as mongodump writes it.
    const users = files.get(`${source.databaseName}/users.metadata.json`)!.toString('utf8');
    expect(users).to.contain('"key":{"_id":{"$numberInt":"1"}},"name":"_id_"');
    // The checksum file beside the archive, in sha256sum's format.
    const sum = createHash('sha256')
      .update(await readFile(archive))
      .digest('hex');
    expect(await readFile(`${archive}.sha256`, 'utf8')).to.equal(`${sum}  backup.tar.gz\n`);
    expect(backup.sha256).to.equal(sum);
    // Nothing but the archive and its checksum is left in the directory.
    expect((await readdir(dir)).sort()).to.deep.equal(['backup.tar.gz', 'backup.tar.gz.sha256']);
  });

  it('refuses a non-empty database unless --drop, which replaces its contents', async () => {
    const restored = freshDb();
    await restored.collection('leftover').insertOne({ note: 'before' });
    let refused: unknown;
    await restoreDatabase(restored, archive).catch((error: unknown) => (refused = error));
    expect(refused).to.be.instanceOf(RestoreRefused);
    expect((refused as Error).message).to.match(/not empty/);
    expect(await collectionNames(restored)).to.deep.equal(['leftover']);

    await restoreDatabase(restored, archive, { drop: true });
    expect(await collectionNames(restored)).to.deep.equal(await collectionNames(source));
    expect(await restored.collection('users').countDocuments()).to.equal(2);
  });

  it('refuses a tampered, truncated or unchecked archive before writing anything', async () => {
    const copy = path.join(dir, 'copy.tar.gz');
    const attempts: [string, () => Promise<void>, RegExp][] = [
      [
        'one byte changed',
        async () => {
          const bytes = await readFile(archive);
          bytes[Math.floor(bytes.length / 2)] ^= 0xff;
          await writeFile(copy, bytes);
          await copyFile(`${archive}.sha256`, `${copy}.sha256`);
        },
        /does not match its checksum/,
      ],
      [
        'truncated',
        async () => {
          await copyFile(archive, copy);
          await copyFile(`${archive}.sha256`, `${copy}.sha256`);
          await truncate(copy, 100);
        },
        /does not match its checksum/,
      ],
      [
        'no checksum file',
        async () => {
          await copyFile(archive, copy);
          await rm(`${copy}.sha256`);
        },
        /no checksum file/,
      ],
    ];
    for (const [label, prepare, message] of attempts) {
      await prepare();
      const restored = freshDb();
      let refused: unknown;
      await restoreDatabase(restored, copy).catch((error: unknown) => (refused = error));
      expect(refused, label).to.be.instanceOf(RestoreRefused);
      expect((refused as Error).message, label).to.match(message);
      expect(await collectionNames(restored), label).to.deep.equal([]);
    }
  });

  it('leaves no partial file when the backup cannot be written', async () => {
    const missing = path.join(dir, 'no-such-dir', 'backup.tar.gz');
    let failed = false;
    await backupDatabase(source, missing).catch(() => (failed = true));
    expect(failed).to.equal(true);
    expect((await readdir(dir)).filter((f) => f.startsWith('.'))).to.deep.equal([]);
  });
});
