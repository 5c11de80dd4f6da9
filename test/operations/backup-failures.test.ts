import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { BSON, GridFSBucket, MongoClient, type Db } from 'mongodb';
import tar from 'tar-stream';
import { checksumLine, sha256Of } from '../../src/operations/archive.js';
import { backupDatabase } from '../../src/operations/backup.js';
import { RestoreRefused, restoreDatabase } from '../../src/operations/restore.js';
import { lastBackup, type BackupRun } from '../../src/operations/scheduled-backup.js';
import { startStore } from '../../src/store/index.js';
import { testServerUri } from '../helpers/app.js';
import { collectionNames, diskWithRoom, readArchive, runOperationsCli } from './helpers.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');

/** Writes `entries` as a .tar.gz with a correct .sha256 beside it (a damaged backup re-summed). */
async function packWithChecksum(file: string, entries: [string, Buffer][]): Promise<void> {
  const pack = tar.pack();
  const written = pipeline(pack, createGzip(), createWriteStream(file));
  for (const [name, bytes] of entries) pack.entry({ name }, bytes);
  pack.finalize();
  await written;
  await writeFile(`${file}.sha256`, checksumLine(await sha256Of(file), file));
}

describe('backup and restore: bad input and full disks', function () {
  this.timeout(60_000);
  let client: MongoClient;
  let source: Db;
  let dir: string;
  let fresh = 0;
  const freshDb = () => client.db(`failures_${randomUUID().slice(0, 8)}_${++fresh}`);

  before(async () => {
    client = await MongoClient.connect(await testServerUri());
    source = freshDb();
    await source
      .collection('users')
      .insertMany(Array.from({ length: 500 }, (_, i) => ({ email: `user${i}@example.jp`, n: i })));
    await source.collection('users').createIndex({ email: 1 }, { unique: true });
    await source
      .collection('lesson_progress')
      .insertMany(
        Array.from({ length: 2000 }, (_, i) => ({ lesson: `l${i}`, pad: 'x'.repeat(200) })),
      );
    const upload = new GridFSBucket(source, { bucketName: 'case_study_files' }).openUploadStream(
      'a.pdf',
    );
    await new Promise<void>((resolve, reject) => {
      upload.once('finish', () => resolve());
      upload.once('error', reject);
      upload.end(randomBytes(600 * 1024)); // incompressible: the archive is large too
    });
    dir = await mkdtemp(path.join(tmpdir(), 'tsunagu-backup-failures-'));
  });

  after(async () => {
    await client?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('a disk that fills up during the backup', () => {
    it('fails with a clear message and leaves nothing, wherever the disk runs out', async () => {
      // How much the whole backup writes (temp files and archive) on a disk with room.
      const roomy = diskWithRoom(Number.POSITIVE_INFINITY);
      await backupDatabase(source, path.join(dir, 'roomy.tar.gz'), { openFile: roomy.openFile });
      const needed = roomy.used();
      await rm(path.join(dir, 'roomy.tar.gz'));
      await rm(path.join(dir, 'roomy.tar.gz.sha256'));
      expect(needed).to.be.greaterThan(1024 * 1024);

      // Out of room at once, within the first collection, halfway, in the archive's last bytes.
      for (const free of [0, 10_000, Math.floor(needed / 2), needed - 100]) {
        const disk = diskWithRoom(free);
        let failure: Error | undefined;
        await backupDatabase(source, path.join(dir, 'backup.tar.gz'), {
          openFile: disk.openFile,
        }).catch((error: Error) => (failure = error));
        expect(failure, `room for ${free} bytes`).to.be.instanceOf(Error);
        expect(failure!.message, `room for ${free} bytes`).to.match(
          /^no space left on the device of .+ \(ENOSPC\); no backup was written and its temporary files were removed$/,
        );
        expect(await readdir(dir), `room for ${free} bytes`).to.deep.equal([]);
      }
      // The source is as it was.
      expect(await source.collection('users').countDocuments()).to.equal(500);
    });

    /** `npm run backup -- --out <out>` on the store of `dataDir`. */
    const backupWithCli = (dataDir: string, out: string) =>
      runOperationsCli(['backup', '--out', out], { DATA_DIR: dataDir });

    it('npm run backup exits with status 1 and says why when the file cannot be written; both outcomes are recorded for the administrators’ page', async () => {
      const dataDir = await mkdtemp(path.join(tmpdir(), 'tsunagu-cli-'));
      try {
        const out = path.join(dir, 'no-such-folder', 'backup.tar.gz');
        const failed = await backupWithCli(dataDir, out);
        expect(failed.code, failed.stderr).to.equal(1);
        expect(failed.stderr).to.match(
          /backup failed: the folder .*no-such-folder does not exist \(ENOENT\); no backup was written/,
        );
        expect(await readdir(dir)).to.deep.equal([]);

        // A relative --out is recorded as the full path on this machine.
        const good = path.join(dir, 'manual.tar.gz');
        const written = await backupWithCli(dataDir, path.relative(projectRoot, good));
        expect(written.code, written.stderr).to.equal(0);
        expect(written.stdout).to.contain(`backup written: ${good}`);

        // The store of DATA_DIR (in its store/ folder), as the app and the CLI open it.
        const store = await startStore({ dataDir: path.join(dataDir, 'store') });
        const storeClient = await MongoClient.connect(store.uri);
        try {
          const runs = await storeClient
            .db('tsunagu')
            .collection<BackupRun>('backup_runs')
            .find({}, { sort: { startedAt: 1 } })
            .toArray();
          expect(runs.map((run) => [run.kind, run.status, run.file, run.slot])).to.deep.equal([
            ['manual', 'error', out, null],
            ['manual', 'ok', good, null],
          ]);
          expect(runs[0].error).to.match(/no-such-folder does not exist/);
          expect(runs[0].bytes).to.equal(null);
          expect(runs[1].error).to.equal(null);
          expect(runs[1].bytes).to.equal((await stat(good)).size);
          expect(runs[1].collections).to.be.greaterThan(0);
          expect(runs[1].finishedAt!.getTime()).to.be.at.least(runs[1].startedAt.getTime());
          // The last backup /healthz and the metrics report is the manual one.
          expect(await lastBackup(storeClient.db('tsunagu'))).to.deep.equal({
            at: runs[1].finishedAt,
            bytes: runs[1].bytes,
            file: good,
          });
        } finally {
          await storeClient.close();
          await store.close();
        }
      } finally {
        await rm(dataDir, { recursive: true, force: true });
        await rm(path.join(dir, 'manual.tar.gz'), { force: true });
        await rm(path.join(dir, 'manual.tar.gz.sha256'), { force: true });
      }
    });
  });

  describe('a damaged archive whose checksum was made after the damage', () => {
    let good: Map<string, Buffer>;
    const db = () => source.databaseName;

    before(async () => {
      const archive = path.join(dir, 'good.tar.gz');
      await backupDatabase(source, archive);
      good = await readArchive(archive);
      await rm(archive);
      await rm(`${archive}.sha256`);
    });

    const cases: [string, (file: string) => Promise<void>, RegExp][] = [
      [
        'cut in the middle of the gzip data',
        async (file) => {
          const whole = path.join(dir, 'whole.tar.gz');
          await packWithChecksum(whole, [...good]);
          const bytes = await readFile(whole);
          await rm(whole);
          await rm(`${whole}.sha256`);
          await writeFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
          await writeFile(`${file}.sha256`, checksumLine(await sha256Of(file), file));
        },
        /cannot be read/,
      ],
      [
        'a .bson entry ending inside a document',
        async (file) => {
          const entries = [...good].map(([name, bytes]): [string, Buffer] =>
            name === `${db()}/users.bson`
              ? [name, bytes.subarray(0, bytes.length - 10)]
              : [name, bytes],
          );
          await packWithChecksum(file, entries);
        },
        /users\.bson: the \.bson data ends inside a document/,
      ],
      [
        'a .bson document that is not BSON',
        async (file) => {
          const garbage = Buffer.alloc(32, 0xab);
          garbage.writeInt32LE(32, 0);
          const entries = [...good].map(([name, bytes]): [string, Buffer] =>
            name === `${db()}/lesson_progress.bson`
              ? [name, Buffer.concat([bytes, garbage])]
              : [name, bytes],
          );
          await packWithChecksum(file, entries);
        },
        /lesson_progress\.bson/,
      ],
      [
        'a metadata.json that is not JSON',
        async (file) => {
          const entries = [...good].map(([name, bytes]): [string, Buffer] =>
            name === `${db()}/users.metadata.json`
              ? [name, Buffer.from('{"indexes": [')]
              : [name, bytes],
          );
          await packWithChecksum(file, entries);
        },
        /users\.metadata\.json/,
      ],
      [
        'two databases',
        async (file) => {
          await packWithChecksum(file, [
            ...good,
            ['other/things.bson', Buffer.from(BSON.serialize({ _id: 1 }))],
          ]);
        },
        /more than one database/,
      ],
      [
        'no collection at all',
        async (file) => {
          await packWithChecksum(file, [['README.txt', Buffer.from('not a backup')]]);
        },
        /holds no collection/,
      ],
    ];

    for (const [label, damage, message] of cases) {
      it(`is refused before anything is written, even with --drop: ${label}`, async () => {
        const file = path.join(dir, `damaged-${randomUUID().slice(0, 8)}.tar.gz`);
        await damage(file);
        const target = freshDb();
        await target.collection('leftover').insertOne({ note: 'kept' });
        let refused: unknown;
        await restoreDatabase(target, file, { drop: true }).catch(
          (error: unknown) => (refused = error),
        );
        expect(refused, label).to.be.instanceOf(RestoreRefused);
        expect((refused as Error).message, label).to.match(message);
        expect(await collectionNames(target), label).to.deep.equal(['leftover']);
        expect(await target.collection('leftover').countDocuments()).to.equal(1);
        await rm(file);
        await rm(`${file}.sha256`);
      });
    }
  });
});
