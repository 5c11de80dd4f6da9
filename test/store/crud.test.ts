/* eslint-disable @typescript-eslint/no-unsafe-return -- documents read through the driver are untyped */
import { expect } from 'chai';
import { MongoBulkWriteError, MongoServerError, type Collection, type Document } from 'mongodb';
import { connectTestDb, type TestDb } from './helpers.js';

describe('store: CRUD through the mongodb driver', () => {
  let t: TestDb;
  before(async () => {
    t = await connectTestDb();
  });
  after(async () => {
    await t.close();
  });

  function coll(name: string): Collection<Document> {
    return t.db.collection(name);
  }

  it('inserts, finds, updates and deletes documents', async () => {
    const c = coll('crud');
    await c.insertMany([
      { name: 'a', n: 1, tags: ['x', 'y'] },
      { name: 'b', n: 2, tags: ['y'] },
      { name: 'c', n: 3, nested: { deep: true } },
    ]);
    expect(await c.countDocuments()).to.equal(3);
    expect((await c.find({ tags: 'y' }).sort({ n: 1 }).toArray()).map((d) => d.name)).to.deep.equal(
      ['a', 'b'],
    );
    expect(
      await c.findOne({ 'nested.deep': true }, { projection: { _id: 0, name: 1 } }),
    ).to.deep.equal({ name: 'c' });

    const res = await c.updateMany({ n: { $gte: 2 } }, { $inc: { n: 10 }, $set: { seen: true } });
    expect(res.matchedCount).to.equal(2);
    expect(res.modifiedCount).to.equal(2);
    expect((await c.find({}, { sort: { n: 1 } }).toArray()).map((d) => d.n)).to.deep.equal([
      1, 12, 13,
    ]);

    const del = await c.deleteOne({ name: 'a' });
    expect(del.deletedCount).to.equal(1);
    expect(await c.deleteMany({ seen: true })).to.include({ deletedCount: 2 });
    expect(await c.countDocuments()).to.equal(0);
  });

  it('stores _id first and keeps a replacement document whole', async () => {
    const c = coll('replace');
    const { insertedId } = await c.insertOne({ a: 1, b: 2 });
    const stored = await c.findOne({ _id: insertedId });
    expect(Object.keys(stored!)).to.deep.equal(['_id', 'a', 'b']);
    await c.replaceOne({ _id: insertedId }, { c: 3 });
    expect(await c.findOne({ _id: insertedId })).to.deep.equal({ _id: insertedId, c: 3 });
  });

  it('answers duplicate keys on insert, insertMany, updateOne and findOneAndUpdate like MongoDB', async () => {
    const c = coll('users');
    await c.createIndex({ email: 1 }, { unique: true });
    await c.insertOne({ email: 'a@example.jp' });

    const err = await c.insertOne({ email: 'a@example.jp' }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(MongoServerError);
    const e = err as MongoServerError;
    expect(e.code).to.equal(11000);
    expect(e.message).to.equal(
      `E11000 duplicate key error collection: ${t.dbName}.users index: email_1 dup key: { email: "a@example.jp" }`,
    );
    expect(e.keyPattern).to.deep.equal({ email: 1 });
    expect(e.keyValue).to.deep.equal({ email: 'a@example.jp' });

    const ordered = await c
      .insertMany([{ email: 'b@example.jp' }, { email: 'a@example.jp' }, { email: 'c@example.jp' }])
      .catch((x: unknown) => x);
    expect(ordered).to.be.instanceOf(MongoBulkWriteError);
    const bulk = ordered as MongoBulkWriteError;
    expect(bulk.insertedCount).to.equal(1);
    expect(bulk.writeErrors).to.have.length(1);
    expect(await c.countDocuments({ email: 'c@example.jp' })).to.equal(0);

    const unordered = (await c
      .insertMany(
        [{ email: 'a@example.jp' }, { email: 'd@example.jp' }, { email: 'b@example.jp' }],
        {
          ordered: false,
        },
      )
      .catch((x: unknown) => x)) as MongoBulkWriteError;
    expect(unordered.insertedCount).to.equal(1);
    const writeErrors = Array.isArray(unordered.writeErrors)
      ? unordered.writeErrors
      : [unordered.writeErrors];
    expect(writeErrors.map((w) => w.index)).to.deep.equal([0, 2]);
    expect(writeErrors[0].code).to.equal(11000);

    const upd = (await c
      .updateOne({ email: 'd@example.jp' }, { $set: { email: 'a@example.jp' } })
      .catch((x: unknown) => x)) as MongoServerError;
    expect(upd.code).to.equal(11000);
    expect(await c.countDocuments({ email: 'd@example.jp' })).to.equal(1);

    const fam = (await c
      .findOneAndUpdate({ email: 'd@example.jp' }, { $set: { email: 'b@example.jp' } })
      .catch((x: unknown) => x)) as MongoServerError;
    expect(fam).to.be.instanceOf(MongoServerError);
    expect(fam.code).to.equal(11000);
    expect(fam.codeName).to.equal('DuplicateKey');
    expect(fam.keyValue).to.deep.equal({ email: 'b@example.jp' });
  });

  it('upserts seeded from equality fields, $and and nested paths, with $setOnInsert', async () => {
    const c = coll('upserts');
    const r = await c.updateOne(
      { $and: [{ kind: 'x' }, { 'meta.owner': 'o1' }], n: { $gt: 5 } },
      { $set: { v: 1 }, $setOnInsert: { created: true } },
      { upsert: true },
    );
    expect(r.upsertedCount).to.equal(1);
    const doc = await c.findOne({ _id: r.upsertedId! });
    expect(doc).to.deep.include({ kind: 'x', meta: { owner: 'o1' }, v: 1, created: true });
    expect(doc).to.not.have.property('n');

    const again = await c.updateOne(
      { kind: 'x' },
      { $set: { v: 2 }, $setOnInsert: { created: 'twice' } },
      { upsert: true },
    );
    expect(again.matchedCount).to.equal(1);
    expect((await c.findOne({ kind: 'x' }))!.created).to.equal(true);

    const fam = await c.findOneAndUpdate(
      { _id: 'fixed' as never, kind: 'y' },
      { $inc: { count: 1 } },
      { upsert: true, returnDocument: 'after' },
    );
    expect(fam).to.deep.equal({ _id: 'fixed', kind: 'y', count: 1 });
  });

  it('updates arrays with positional $, arrayFilters and $push/$pull', async () => {
    const c = coll('arrays');
    await c.insertOne({
      _id: 1 as never,
      items: [
        { k: 'a', q: 1 },
        { k: 'b', q: 2 },
      ],
      tags: ['x'],
    });
    await c.updateOne({ _id: 1 as never, 'items.k': 'b' }, { $set: { 'items.$.q': 20 } });
    await c.updateOne(
      { _id: 1 as never },
      { $inc: { 'items.$[it].q': 100 } },
      { arrayFilters: [{ 'it.k': 'a' }] },
    );
    await c.updateOne({ _id: 1 as never }, { $push: { tags: 'y' } as never });
    await c.updateOne({ _id: 1 as never }, { $pull: { tags: 'x' } as never });
    const doc = await c.findOne({ _id: 1 as never });
    expect(doc!.items).to.deep.equal([
      { k: 'a', q: 101 },
      { k: 'b', q: 20 },
    ]);
    expect(doc!.tags).to.deep.equal(['y']);
  });

  it('refuses to change _id with code 66 and conflicting paths with code 40', async () => {
    const c = coll('immutable');
    await c.insertOne({ _id: 'k' as never, a: { b: 1 } });
    const e1 = (await c
      .updateOne({ _id: 'k' as never }, { $set: { _id: 'other' } })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(e1.code).to.equal(66);
    const same = await c.updateOne({ _id: 'k' as never }, { $set: { _id: 'k', z: 1 } });
    expect(same.modifiedCount).to.equal(1);
    const e2 = (await c
      .updateOne({ _id: 'k' as never }, { $set: { a: 1, 'a.b': 2 } })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(e2.code).to.equal(40);
    expect(await c.findOne({ _id: 'k' as never })).to.deep.equal({ _id: 'k', a: { b: 1 }, z: 1 });
  });

  it('pages cursors over more than 101 documents, with batchSize and limit', async () => {
    const c = coll('many');
    await c.insertMany(Array.from({ length: 250 }, (_, i) => ({ i })));
    const all = await c.find().sort({ i: 1 }).toArray();
    expect(all.map((d) => d.i)).to.deep.equal(Array.from({ length: 250 }, (_, i) => i));
    const batched = await c.find({}, { batchSize: 7 }).sort({ i: -1 }).toArray();
    expect(batched).to.have.length(250);
    expect(batched[0].i).to.equal(249);
    expect(await c.find().skip(240).limit(20).sort({ i: 1 }).toArray()).to.have.length(10);

    const cursor = c.find({}, { batchSize: 10 });
    expect((await cursor.next())!.i).to.be.a('number');
    await cursor.close();
  });

  it('takes large messages: a 10 MB document and a 20 MB insertMany', async () => {
    const c = coll('large');
    const big = 'x'.repeat(10 * 1024 * 1024);
    await c.insertOne({ _id: 'big' as never, big });
    expect(((await c.findOne({ _id: 'big' as never }))!.big as string).length).to.equal(big.length);
    const docs = Array.from({ length: 10_000 }, (_, i) => ({ i, pad: 'p'.repeat(2000) }));
    const res = await c.insertMany(docs);
    expect(res.insertedCount).to.equal(10_000);
    expect(await c.countDocuments({ i: { $gte: 0 } })).to.equal(10_000);
  });

  it('counts and lists distinct values', async () => {
    const c = coll('distinct');
    await c.insertMany([{ g: 'b', t: [1, 2] }, { g: 'a', t: [2, 3] }, { g: 'a' }]);
    expect(await c.distinct('g')).to.deep.equal(['a', 'b']);
    expect(await c.distinct('t', { g: 'a' })).to.deep.equal([2, 3]);
    expect(await c.countDocuments({ g: 'a' })).to.equal(2);
    expect(await c.estimatedDocumentCount()).to.equal(3);
  });

  it('runs pipeline updates, findOneAndDelete with sort and projection, and lists databases', async () => {
    const c = coll('pipeline');
    await c.insertMany([
      { k: 1, a: 2, b: 3 },
      { k: 2, a: 5, b: 5 },
    ]);
    await c.updateMany({}, [{ $set: { total: { $add: ['$a', '$b'] } } }, { $unset: 'b' }]);
    expect(
      await c
        .find({}, { projection: { _id: 0 } })
        .sort({ k: 1 })
        .toArray(),
    ).to.deep.equal([
      { k: 1, a: 2, total: 5 },
      { k: 2, a: 5, total: 10 },
    ]);
    const removed = await c.findOneAndDelete(
      {},
      { sort: { total: -1 }, projection: { _id: 0, k: 1 } },
    );
    expect(removed).to.deep.equal({ k: 2 });
    expect(await c.countDocuments()).to.equal(1);
    const { databases } = await t.client.db('admin').admin().listDatabases();
    expect(databases.map((d) => d.name)).to.include(t.dbName);
  });

  it('answers create twice with 48 and listIndexes on a missing collection with 26', async () => {
    await t.db.createCollection('made');
    const e = (await t.db.createCollection('made').catch((x: unknown) => x)) as MongoServerError;
    expect(e.code).to.equal(48);
    const e2 = (await t.db
      .collection('nothing_here')
      .listIndexes()
      .toArray()
      .catch((x: unknown) => x)) as MongoServerError;
    expect(e2.code).to.equal(26);
    const names = (await t.db.listCollections({ name: 'made' }, { nameOnly: true }).toArray()).map(
      (x) => x.name,
    );
    expect(names).to.deep.equal(['made']);
    expect(await t.db.collection('made').drop()).to.equal(true);
  });
});
