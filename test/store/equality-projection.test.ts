import { expect } from 'chai';
import { Decimal128, Double, Int32, Long, ObjectId, type Collection, type Document } from 'mongodb';
import { connectTestDb, type TestDb } from './helpers.js';

/*
 * Plain equality filters and plain projections have a fast path in the store (matcher.ts,
 * commands/read.ts); these pin down that it answers exactly as MongoDB does, next to the
 * cases that still go through mingo.
 */
describe('store: equality filters and plain projections', () => {
  let t: TestDb;
  // _id of any type, as in MongoDB.
  type Doc = Document & { _id: number | string };
  let c: Collection<Doc>;
  const oid = new ObjectId();
  const day = new Date('2026-04-01T00:00:00Z');
  before(async () => {
    t = await connectTestDb();
    c = t.db.collection<Doc>('eq');
    await c.insertMany([
      { _id: 1, a: 'x', n: 1, flag: true, when: day, ref: oid },
      { _id: 2, a: ['x', 'y'], n: new Double(1), flag: 1 },
      { _id: 3, a: [['x']], n: Long.fromNumber(1), flag: false },
      { _id: 4, n: Decimal128.fromString('1'), when: new Date(day.getTime() + 1) },
      { _id: 5, a: null, n: new Int32(2), ref: [new ObjectId(), oid] },
      { _id: 6, a: { b: 'x' }, n: '1', constructor: 'x' },
      { _id: 'seven', a: 'X', n: 1.5 },
    ]);
  });
  after(async () => {
    await t.close();
  });

  const ids = async (filter: Document) =>
    (await c.find(filter).sort({ n: 1, _id: 1 }).toArray()).map((d) => d._id);
  const sortedIds = async (filter: Document) =>
    (await c.find(filter).toArray()).map((d) => String(d._id)).sort();

  it('matches a value, or an array holding it (not nested arrays), bare or as $eq', async () => {
    expect(await sortedIds({ a: 'x' })).to.deep.equal(['1', '2']);
    expect(await sortedIds({ a: { $eq: 'x' } })).to.deep.equal(['1', '2']);
    expect(await sortedIds({ a: 'X' })).to.deep.equal(['seven']);
    expect(await sortedIds({ a: 'z' })).to.deep.equal([]);
    expect(await sortedIds({ ref: oid })).to.deep.equal(['1', '5']);
    expect(await sortedIds({ when: day })).to.deep.equal(['1']);
  });

  it('compares numbers by value across int, long, double and decimal, never with strings or booleans', async () => {
    expect(await sortedIds({ n: 1 })).to.deep.equal(['1', '2', '3', '4']);
    expect(await sortedIds({ n: Long.fromNumber(1) })).to.deep.equal(['1', '2', '3', '4']);
    expect(await sortedIds({ n: 2 })).to.deep.equal(['5']);
    expect(await sortedIds({ n: 1.5 })).to.deep.equal(['seven']);
    expect(await sortedIds({ flag: true })).to.deep.equal(['1']);
    expect(await sortedIds({ flag: 1 })).to.deep.equal(['2']);
  });

  it('combines equalities with each other and with operators, on _id and other fields', async () => {
    expect(await ids({ _id: 2, a: 'x' })).to.deep.equal([2]);
    expect(await ids({ _id: 3, a: 'x' })).to.deep.equal([]);
    expect(await ids({ a: 'x', _id: { $gt: 1 } })).to.deep.equal([2]);
    expect(await ids({ _id: 'seven' })).to.deep.equal(['seven']);
    expect(await sortedIds({ a: 'x', $or: [{ flag: true }, { flag: 1 }] })).to.deep.equal([
      '1',
      '2',
    ]);
  });

  it('leaves null, embedded documents, dotted paths and Object.prototype names to the full matcher', async () => {
    expect(await sortedIds({ a: null })).to.deep.equal(['4', '5']);
    expect(await sortedIds({ a: { b: 'x' } })).to.deep.equal(['6']);
    expect(await sortedIds({ 'a.0': 'x' })).to.deep.equal(['2', '3']);
    expect(await sortedIds({ constructor: 'x' })).to.deep.equal(['6']);
  });

  it('projects plain inclusions in document order with _id first, and plain exclusions', async () => {
    const one = (projection: Document) => c.findOne({ _id: 1 }, { projection });
    const inc = await one({ when: 1, a: 1 });
    expect(inc).to.deep.equal({ _id: 1, a: 'x', when: day });
    expect(Object.keys(inc!)).to.deep.equal(['_id', 'a', 'when']);
    expect(await one({ a: true, _id: 0 })).to.deep.equal({ a: 'x' });
    expect(await one({ missing: 1 })).to.deep.equal({ _id: 1 });
    expect(await one({ _id: 1 })).to.deep.equal({ _id: 1 });
    const exc = await one({ n: 0, flag: false });
    expect(Object.keys(exc!)).to.deep.equal(['_id', 'a', 'when', 'ref']);
    expect(await one({ _id: 0 })).to.deep.equal({ a: 'x', n: 1, flag: true, when: day, ref: oid });
    expect(await one({ _id: 0, a: 0, n: 0, flag: 0, when: 0 })).to.deep.equal({ ref: oid });
  });

  it('refuses a projection mixing inclusion and exclusion', async () => {
    const error = await c.findOne({ _id: 1 }, { projection: { a: 1, n: 0 } }).then(
      () => null,
      (err: Error & { code?: number }) => err,
    );
    expect(error?.code).to.equal(31254);
    expect(error?.message).to.equal('Cannot do exclusion on field n in inclusion projection');
  });
});
