import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BSON, Binary, GridFSBucket, type Document } from 'mongodb';
import { backupDatabase } from '../../src/operations/backup.js';
import { scratchDatabase } from '../helpers/app.js';
import { readArchive, splitBson } from './helpers.js';

const CHUNK = 64 * 1024;

interface TestRecord {
  _id: number;
  version: number;
  copy: number;
  pad: string;
}

describe('npm run backup while the app writes', function () {
  this.timeout(120_000);
  const scratch = scratchDatabase('backup_writes');
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tsunagu-backup-writes-'));
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('holds whole documents only, and every GridFS file in it has all its chunks', async () => {
    // Each record carries its version three times; a torn write would show as a mismatch.
    const record = (id: number, version: number): TestRecord => ({
      _id: id,
      version,
      copy: version,
      pad: 'あ'.repeat(200 + (version % 300)),
    });
    await scratch.db
      .collection<TestRecord>('records')
      .insertMany(Array.from({ length: 3000 }, (_, i) => record(i, 0)));
    const bucket = new GridFSBucket(scratch.db, { bucketName: 'uploads', chunkSizeBytes: CHUNK });
    const upload = async () => {
      const stream = bucket.openUploadStream('f');
      const bytes = randomBytes(CHUNK * (1 + Math.floor(Math.random() * 4)) + 100);
      await new Promise<void>((resolve, reject) => {
        stream.once('finish', () => resolve());
        stream.once('error', reject);
        stream.end(bytes);
      });
      return stream.id;
    };
    const files = [];
    for (let i = 0; i < 20; i++) files.push(await upload());

    let writing = true;
    let writes = 0;
    const writers = [
      (async () => {
        for (let version = 1; writing; version++) {
          const id = Math.floor(Math.random() * 3000);
          const { _id: _ignored, ...fields } = record(id, version);
          await scratch.db
            .collection<TestRecord>('records')
            .updateOne({ _id: id }, { $set: fields });
          await scratch.db
            .collection<TestRecord>('records')
            .insertOne(record(10_000 + version, version));
          writes++;
        }
      })(),
      (async () => {
        while (writing) {
          files.push(await upload());
          await bucket.delete(files.shift()!);
          writes++;
        }
      })(),
    ];

    const archive = path.join(dir, 'during-writes.tar.gz');
    const writesBefore = writes;
    const result = await backupDatabase(scratch.db, archive);
    const writesDuring = writes - writesBefore;
    writing = false;
    await Promise.all(writers);
    expect(writesDuring, 'writes went on during the backup').to.be.greaterThan(0);

    const entries = await readArchive(archive);
    const bson = (name: string) =>
      splitBson(entries.get(`${scratch.db.databaseName}/${name}.bson`)!).map((b) =>
        BSON.deserialize(b),
      );
    const records = bson('records');
    expect(records.length).to.be.at.least(3000);
    for (const doc of records) {
      expect(doc.copy, `record ${doc._id}`).to.equal(doc.version);
      expect(doc.pad).to.equal('あ'.repeat(200 + ((doc.version as number) % 300)));
    }
    const fileDocs = bson('uploads.files');
    const chunks = bson('uploads.chunks');
    expect(fileDocs.length).to.be.at.least(1);
    const byFile = new Map<string, Document[]>();
    for (const chunk of chunks) {
      const key = String(chunk.files_id);
      byFile.set(key, [...(byFile.get(key) ?? []), chunk]);
    }
    expect([...byFile.keys()].sort()).to.deep.equal(fileDocs.map((f) => String(f._id)).sort());
    for (const file of fileDocs) {
      const parts = byFile.get(String(file._id))!.sort((a, b) => Number(a.n) - Number(b.n));
      expect(parts.map((p) => Number(p.n))).to.deep.equal(parts.map((_, i) => i));
      const length = parts.reduce((sum, p) => sum + (p.data as Binary).buffer.length, 0);
      expect(length, `file ${String(file._id)}`).to.equal(file.length);
    }
    const reported = result.collections.find((c) => c.name === 'uploads.files');
    expect(reported?.documents).to.equal(fileDocs.length);
  });

  it('leaves out a file whose chunks went while it was read (a delete between the two reads)', async () => {
    // What the backup sees when GridFS deletes a file (files document first, then its chunks)
    // after the files were read and before the chunks were: a files document without chunks.
    const bucket = new GridFSBucket(scratch.db, {
      bucketName: 'attachments',
      chunkSizeBytes: CHUNK,
    });
    const keep = bucket.openUploadStream('keep');
    const gone = bucket.openUploadStream('gone');
    for (const stream of [keep, gone]) {
      await new Promise<void>((resolve) => {
        stream.once('finish', () => resolve());
        stream.end(randomBytes(CHUNK * 2 + 1));
      });
    }
    await scratch.db.collection('attachments.chunks').deleteMany({ files_id: gone.id, n: 1 });

    const archive = path.join(dir, 'half-deleted.tar.gz');
    const result = await backupDatabase(scratch.db, archive);
    expect(result.skippedFiles).to.equal(1);
    const entries = await readArchive(archive);
    const ids = (name: string, field: string) =>
      splitBson(entries.get(`${scratch.db.databaseName}/${name}.bson`)!).map((b) =>
        String(BSON.deserialize(b)[field]),
      );
    expect(ids('attachments.files', '_id')).to.deep.equal([String(keep.id)]);
    expect(new Set(ids('attachments.chunks', 'files_id'))).to.deep.equal(
      new Set([String(keep.id)]),
    );
  });
});
