import { expect } from 'chai';
import { type Document } from 'mongodb';
import { connectTestDb, type TestDb } from '../helpers.js';
import { ids, serverError } from './helpers.js';

/*
 * Commands and limits, each case named after the rule of the MongoDB manual it checks
 * (https://www.mongodb.com/docs/manual/reference/command/).
 */
describe('store conformance: hint, limits, explain, collMod, hashed indexes', () => {
  let t: TestDb;
  before(async () => {
    t = await connectTestDb();
    await t.db.collection('h').insertMany([
      { _id: 1, n: 3 },
      { _id: 2, n: 1 },
      { _id: 3, n: 2 },
    ] as never);
    await t.db.collection('h').createIndex({ n: 1 });
  });
  after(async () => {
    await t.close();
  });

  describe('hint (item 4)', () => {
    it('"hint … forces the query optimizer to use the specified index": results come in that index\'s order', async () => {
      const h = t.db.collection('h');
      expect(ids(await h.find({}).hint({ n: 1 }).toArray())).to.deep.equal([2, 3, 1]);
      expect(ids(await h.find({}).hint('n_1').toArray())).to.deep.equal([2, 3, 1]);
      expect(ids(await h.find({}).hint({ $natural: -1 }).toArray())).to.deep.equal([3, 2, 1]);
      expect(await h.countDocuments({}, { hint: 'n_1' })).to.equal(3);
    });

    it('"If the index does not exist, the operation errors" with code 2 (find, count, update, delete)', async () => {
      const h = t.db.collection('h');
      expect((await serverError(h.find({}).hint('nope').toArray())).code).to.equal(2);
      expect((await serverError(h.find({}).hint({ missing: 1 }).toArray())).code).to.equal(2);
      expect((await serverError(h.countDocuments({}, { hint: 'nope' }))).code).to.equal(2);
      expect(
        (await serverError(h.updateOne({}, { $set: { x: 1 } }, { hint: 'nope' }))).code,
      ).to.equal(2);
      expect((await serverError(h.deleteOne({}, { hint: 'nope' }))).code).to.equal(2);
    });
  });

  describe('the 16 MiB document limit (item 6)', () => {
    const big = 'x'.repeat(16 * 1024 * 1024);
    it('"The maximum BSON document size is 16 mebibytes": insert 10334, update 17419, upsert 17420', async () => {
      const c = t.db.collection('big');
      await c.insertOne({ _id: 1, s: 'small' } as never);
      expect((await serverError(c.insertOne({ _id: 2, s: big } as never))).code).to.equal(10334);
      expect(
        (await serverError(c.updateOne({ _id: 1 as never }, { $set: { s: big } }))).code,
      ).to.equal(17419);
      expect(
        (
          await serverError(
            c.updateOne({ _id: 3 as never }, { $set: { s: big } }, { upsert: true }),
          )
        ).code,
      ).to.equal(17420);
      expect(await c.countDocuments()).to.equal(1);
      expect((await c.findOne({ _id: 1 as never }))?.s).to.equal('small');
    });
  });

  describe('explain, collMod, hashed indexes (item 14)', () => {
    it('explain of an aggregate reports the plan of its leading $match', async () => {
      const plan: Document = await t.db
        .collection('h')
        .aggregate([{ $match: { n: 2 } }, { $project: { n: 1 } }])
        .explain();
      expect(JSON.stringify(plan)).to.contain('n_1');
    });

    it('"collMod … index: { hidden }" hides an index from the planner and unhides it', async () => {
      const r = await t.db.command({ collMod: 'h', index: { name: 'n_1', hidden: true } });
      expect(r).to.include({ hidden_old: false, hidden_new: true });
      const specs = await t.db.collection('h').listIndexes().toArray();
      expect(specs.find((s) => s.name === 'n_1')?.hidden).to.equal(true);
      expect(
        (await serverError(t.db.collection('h').find({}).hint('n_1').toArray())).code,
      ).to.equal(2);
      await t.db.command({ collMod: 'h', index: { keyPattern: { n: 1 }, hidden: false } });
      expect(ids(await t.db.collection('h').find({}).hint('n_1').toArray())).to.deep.equal([
        2, 3, 1,
      ]);
    });

    it('"collMod … expireAfterSeconds" changes a TTL index', async () => {
      const c = t.db.collection('ttl');
      await c.createIndex({ at: 1 }, { expireAfterSeconds: 60 });
      const r = await t.db.command({
        collMod: 'ttl',
        index: { keyPattern: { at: 1 }, expireAfterSeconds: 120 },
      });
      expect(r).to.include({ expireAfterSeconds_old: 60, expireAfterSeconds_new: 120 });
      const spec = (await c.listIndexes().toArray()).find((s) => s.name === 'at_1');
      expect(spec?.expireAfterSeconds).to.equal(120);
    });

    it('"Hashed indexes support equality matches" and refuse array values (16766)', async () => {
      const c = t.db.collection('hashed');
      expect(await c.createIndex({ k: 'hashed' })).to.equal('k_hashed');
      await c.insertMany([
        { _id: 1, k: 'a' },
        { _id: 2, k: 'b' },
      ] as never);
      expect(ids(await c.find({ k: 'b' }).toArray())).to.deep.equal([2]);
      expect((await serverError(c.insertOne({ _id: 3, k: [1] } as never))).code).to.equal(16766);
      expect((await serverError(c.createIndex({ u: 'hashed' }, { unique: true }))).code).to.equal(
        16764,
      );
    });
  });
});
