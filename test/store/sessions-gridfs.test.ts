/* eslint-disable @typescript-eslint/no-unsafe-return -- documents read through the driver are untyped */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import MongoStore from 'connect-mongo';
import type { SessionData } from 'express-session';
import { GridFSBucket } from 'mongodb';
import { connectTestDb, onRealMongo, type TestDb } from './helpers.js';

function call<T>(fn: (cb: (err: unknown, value?: T) => void) => void): Promise<T | undefined> {
  return new Promise((resolve, reject) =>
    fn((err, value) =>
      err ? reject(err instanceof Error ? err : new Error(JSON.stringify(err))) : resolve(value),
    ),
  );
}

describe('store: connect-mongo sessions and GridFS', () => {
  let t: TestDb;
  before(async () => {
    t = await connectTestDb();
  });
  after(async () => {
    await t.close();
  });

  it('sets, reads back and destroys a session through connect-mongo, with its TTL index', async () => {
    const store = MongoStore.create({
      client: t.client,
      dbName: t.dbName,
      collectionName: 'sessions',
    });
    const data = {
      cookie: {
        originalMaxAge: 60_000,
        expires: new Date(Date.now() + 60_000),
        httpOnly: true,
        path: '/',
      },
      userId: 'u-1',
    } as unknown as SessionData;
    await call<void>((cb) => store.set('sid-1', data, cb));
    const back = await call<SessionData | null>((cb) => store.get('sid-1', cb));
    expect((back as unknown as { userId: string }).userId).to.equal('u-1');
    expect(await call<number>((cb) => store.length(cb))).to.equal(1);

    const indexes = await t.db.collection('sessions').listIndexes().toArray();
    const ttl = indexes.find((i) => i.key.expires === 1);
    expect(ttl).to.include({ expireAfterSeconds: 0 });

    await call<void>((cb) => store.destroy('sid-1', cb));
    expect(await call<SessionData | null>((cb) => store.get('sid-1', cb))).to.equal(null);
  });

  it('uploads a file of a few MB to GridFS and downloads the same bytes', async () => {
    const bucket = new GridFSBucket(t.db, { bucketName: 'files' });
    const bytes = randomBytes(3 * 1024 * 1024 + 123);
    const upload = bucket.openUploadStream('report.pdf', { metadata: { owner: 'x' } });
    await new Promise<void>((resolve, reject) => {
      upload.on('finish', () => resolve());
      upload.on('error', reject);
      upload.end(bytes);
    });
    const [file] = await bucket.find({ filename: 'report.pdf' }).toArray();
    expect(file.length).to.equal(bytes.length);

    const chunks: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      bucket
        .openDownloadStream(upload.id)
        .on('data', (c: Buffer) => chunks.push(c))
        .on('end', () => resolve())
        .on('error', reject);
    });
    expect(Buffer.concat(chunks).equals(bytes)).to.equal(true);

    const partial: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      bucket
        .openDownloadStreamByName('report.pdf', { start: 300_000, end: 300_010 })
        .on('data', (c: Buffer) => partial.push(c))
        .on('end', () => resolve())
        .on('error', reject);
    });
    expect(Buffer.concat(partial).equals(bytes.subarray(300_000, 300_010))).to.equal(true);

    await bucket.delete(upload.id);
    expect(await t.db.collection('files.chunks').countDocuments()).to.equal(0);
  });

  it('expires sessions through the TTL index (embedded store: a TTL pass on demand)', async function () {
    if (onRealMongo) this.skip(); // MongoDB's TTL monitor runs every 60 s
    const c = t.db.collection('ttl');
    await c.createIndex({ expires: 1 }, { expireAfterSeconds: 0 });
    await c.createIndex({ createdAt: 1 }, { expireAfterSeconds: 3600 });
    await c.insertMany([
      { k: 'past', expires: new Date(Date.now() - 1000) },
      { k: 'future', expires: new Date(Date.now() + 60_000) },
      { k: 'no-date', expires: 'tomorrow' },
      { k: 'old', createdAt: [new Date(Date.now() - 7200_000), new Date()] },
      { k: 'young', createdAt: new Date() },
    ]);
    expect(await t.store!.expireNow()).to.equal(2);
    const left = (await c.find().toArray()).map((d) => d.k).sort();
    expect(left).to.deep.equal(['future', 'no-date', 'young']);
  });
});
