/* eslint-disable @typescript-eslint/no-unsafe-return -- documents read through the driver are untyped */
import { expect } from 'chai';
import { MongoServerError, type Document, type ObjectId } from 'mongodb';
import { connectTestDb, onRealMongo, type TestDb } from './helpers.js';

function usesIndex(explain: Document, name: string): boolean {
  const text = JSON.stringify(explain);
  return text.includes('"IXSCAN"') && text.includes(`"indexName":"${name}"`);
}

describe('store: secondary indexes and the planner', () => {
  let t: TestDb;
  before(async () => {
    t = await connectTestDb();
    const c = t.db.collection('people');
    await c.insertMany(
      Array.from({ length: 2000 }, (_, i) => ({
        i,
        group: `g${i % 50}`,
        age: i % 90,
        tags: [`t${i % 7}`, `t${(i + 1) % 7}`],
        email: i % 3 === 0 ? undefined : `p${i}@example.jp`,
        at: new Date(Date.UTC(2024, 0, 1) + i * 3600_000),
      })),
    );
    await c.createIndexes([
      { key: { group: 1, age: -1 } },
      { key: { tags: 1 } },
      { key: { at: 1 } },
      { key: { i: 1 }, unique: true },
    ]);
  });
  after(async () => {
    await t.close();
  });

  it('uses an index for equality, $in, ranges and sorts, and answers correctly', async () => {
    const c = t.db.collection('people');
    const eq = await c.find({ group: 'g7', age: { $gte: 50 } }).explain('executionStats');
    expect(usesIndex(eq, 'group_1_age_-1')).to.equal(true);
    expect(eq.executionStats.totalDocsExamined).to.be.below(60);

    const found = await c
      .find({ group: 'g7', age: { $gte: 50 } })
      .sort({ age: -1 })
      .toArray();
    const expected = Array.from({ length: 2000 }, (_, i) => i)
      .filter((i) => i % 50 === 7 && i % 90 >= 50)
      .sort((a, b) => (b % 90) - (a % 90) || 0);
    expect(found.map((d) => d.age)).to.deep.equal(expected.map((i) => i % 90));

    const inq = await c.find({ i: { $in: [5, 1500, 99999] } }).explain('executionStats');
    expect(usesIndex(inq, 'i_1')).to.equal(true);
    expect(
      (await c.find({ i: { $in: [5, 1500, 99999] } }).toArray()).map((d) => d.i).sort(),
    ).to.deep.equal([1500, 5]);

    const from = new Date(Date.UTC(2024, 0, 10));
    const to = new Date(Date.UTC(2024, 0, 11));
    const range = await c
      .find({ at: { $gte: from, $lt: to } })
      .sort({ at: -1 })
      .toArray();
    expect(range).to.have.length(24);
    expect(range[0].at.getTime()).to.be.above(range[23].at.getTime());
    const rangeExplain = await c.find({ at: { $gte: from, $lt: to } }).explain('executionStats');
    expect(usesIndex(rangeExplain, 'at_1')).to.equal(true);

    const latest = await c.find({}).sort({ at: -1 }).limit(3).toArray();
    expect(latest.map((d) => d.i)).to.deep.equal([1999, 1998, 1997]);
  });

  it('pages by _id in order through the _id index', async () => {
    const c = t.db.collection('people');
    const all = await c.find({}, { projection: { _id: 1 } }).toArray();
    const ids = all
      .map((d) => d._id)
      .sort((a, b) => a.toHexString().localeCompare(b.toHexString()));
    const hex = (list: Document[]) => list.map((d) => (d._id as ObjectId).toHexString());
    const last = await c.find().sort({ _id: -1 }).limit(3).toArray();
    expect(hex(last)).to.deep.equal(
      hex(
        ids
          .slice(-3)
          .reverse()
          .map((_id) => ({ _id })),
      ),
    );
    const pivot = ids[1990];
    const next = await c
      .find({ _id: { $gt: pivot } })
      .sort({ _id: 1 })
      .toArray();
    expect(hex(next)).to.deep.equal(hex(ids.slice(1991).map((_id) => ({ _id }))));
    const ex = await c.find({ _id: { $gt: pivot } }).explain('executionStats');
    expect(usesIndex(ex, '_id_')).to.equal(true);
    expect(ex.executionStats.totalDocsExamined).to.be.below(20);
  });

  it('indexes array elements (multikey)', async () => {
    const c = t.db.collection('people');
    const n = await c.countDocuments({ tags: 't3' });
    expect(n).to.equal(
      Array.from({ length: 2000 }, (_, i) => i).filter((i) => i % 7 === 3 || (i + 1) % 7 === 3)
        .length,
    );
    const ex = await c.find({ tags: 't3' }).explain('executionStats');
    expect(usesIndex(ex, 'tags_1')).to.equal(true);
  });

  it('reports the chosen plan through the internal hook (embedded store only)', async function () {
    if (onRealMongo) this.skip();
    const c = t.db.collection('people');
    await c.findOne({ i: 1234 });
    expect(t.store!.lastPlan(`${t.dbName}.people`)).to.include({
      stage: 'IXSCAN',
      indexName: 'i_1',
      docsExamined: 1,
    });
    await c.findOne({ email: 'p5@example.jp' });
    expect(t.store!.lastPlan(`${t.dbName}.people`)).to.include({ stage: 'COLLSCAN' });
  });

  it('prefers $in followed by equalities over a lone equality on a less selective index', async function () {
    if (onRealMongo) this.skip(); // the plan is read through the embedded store's hook
    const c = t.db.collection('progress');
    // 300 people × 2 programs; most people in one municipality (as 長野市 in the reports).
    await c.insertMany(
      Array.from({ length: 600 }, (_, i) => ({
        userId: Math.floor(i / 2),
        programId: i % 2 === 0 ? 'basic' : 'advanced',
        municipalityId: i % 10 === 0 ? 'm2' : 'm1',
        at: i,
      })),
    );
    await c.createIndexes([
      { key: { programId: 1, municipalityId: 1 } },
      { key: { userId: 1, programId: 1, at: -1 } },
    ]);
    const ids = [3, 150, 299, 1000];
    const filter = { programId: 'basic', userId: { $in: ids } };
    const found = await c.find(filter).toArray();
    expect(found.map((d) => d.userId).sort((a, b) => a - b)).to.deep.equal([3, 150, 299]);
    expect(found.every((d) => d.programId === 'basic')).to.equal(true);
    expect(t.store!.lastPlan(`${t.dbName}.progress`)).to.include({
      indexName: 'userId_1_programId_1_at_-1',
      keysExamined: 3,
      docsExamined: 3,
    });
    // One point: the index also gives the order of the field after the equalities.
    const sorted = await c
      .find({ programId: 'advanced', userId: { $in: [7] } })
      .sort({ at: -1 })
      .toArray();
    expect(sorted.map((d) => d.at)).to.deep.equal([15]);
    expect(t.store!.lastPlan(`${t.dbName}.progress`)).to.include({ sortedByIndex: true });
  });

  it('enforces sparse, partial and compound unique indexes', async () => {
    const c = t.db.collection('uniq');
    await c.createIndex({ code: 1 }, { unique: true, sparse: true });
    await c.createIndex({ email: 1 }, { unique: true, partialFilterExpression: { active: true } });
    await c.createIndex({ org: 1, number: 1 }, { unique: true });
    await c.insertMany([
      { org: 'a', number: 1 },
      { org: 'a', number: 2 },
      { org: 'b', number: 1 },
    ]);
    await c.insertMany([
      { email: 'x@example.jp', active: false, org: 'c', number: 1 },
      { email: 'x@example.jp', active: true, org: 'c', number: 2 },
    ]);
    const partialDup = (await c
      .insertOne({ email: 'x@example.jp', active: true, org: 'c', number: 3 })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(partialDup.code).to.equal(11000);
    const compoundDup = (await c
      .insertOne({ org: 'a', number: 2 })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(compoundDup.code).to.equal(11000);
    expect(compoundDup.keyValue).to.deep.equal({ org: 'a', number: 2 });
    expect(compoundDup.message).to.contain(
      'index: org_1_number_1 dup key: { org: "a", number: 2 }',
    );
    await c.insertOne({ code: 'k1', org: 'd', number: 1 });
    const sparseDup = (await c
      .insertOne({ code: 'k1', org: 'd', number: 2 })
      .catch((e: unknown) => e)) as MongoServerError;
    expect(sparseDup.code).to.equal(11000);
  });

  it('refuses a unique index over duplicates, and conflicting index definitions', async () => {
    const c = t.db.collection('conflicts');
    await c.insertMany([{ v: 1 }, { v: 1 }]);
    const e = (await c
      .createIndex({ v: 1 }, { unique: true })
      .catch((x: unknown) => x)) as MongoServerError;
    expect(e.code).to.equal(11000);
    expect((await c.listIndexes().toArray()).map((i) => i.name)).to.deep.equal(['_id_']);
    await c.createIndex({ w: 1 }, { name: 'w_idx' });
    expect(await c.createIndex({ w: 1 }, { name: 'w_idx' })).to.equal('w_idx');
    const e2 = (await c
      .createIndex({ x: 1 }, { name: 'w_idx' })
      .catch((x: unknown) => x)) as MongoServerError;
    expect(e2.code).to.equal(86);
    const e3 = (await c
      .createIndex({ w: 1 }, { name: 'other' })
      .catch((x: unknown) => x)) as MongoServerError;
    expect(e3.code).to.equal(85);
    await c.dropIndex('w_idx');
    const e4 = (await c.dropIndex('w_idx').catch((x: unknown) => x)) as MongoServerError;
    expect(e4.code).to.equal(27);
  });

  it('keeps indexes right through updates and deletes', async () => {
    const c = t.db.collection('moving');
    await c.createIndex({ score: 1 });
    await c.insertMany(Array.from({ length: 100 }, (_, i) => ({ i, score: i })));
    await c.updateMany({ i: { $lt: 50 } }, { $inc: { score: 1000 } });
    await c.deleteMany({ i: { $gte: 90 } });
    const top = await c
      .find({ score: { $gte: 1000 } })
      .sort({ score: 1 })
      .toArray();
    expect(top.map((d) => d.i)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i));
    expect(await c.countDocuments({ score: { $lt: 100 } })).to.equal(40);
  });
});
