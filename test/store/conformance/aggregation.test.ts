import { expect } from 'chai';
import { Decimal128, Double, Long, type Document } from 'mongodb';
import { connectTestDb, type TestDb } from '../helpers.js';
import { serverError } from './helpers.js';

/*
 * Aggregation stages the app and mongoose use, each case named after the rule of the MongoDB
 * manual it checks (https://www.mongodb.com/docs/manual/reference/operator/aggregation-pipeline/).
 */
describe('store conformance: aggregation stages', () => {
  let t: TestDb;
  before(async () => {
    t = await connectTestDb();
  });
  after(async () => {
    await t.close();
  });

  it('an unknown stage: "Unrecognized pipeline stage name" with code 40324 (item 15)', async () => {
    const c = t.db.collection('stages');
    await c.insertOne({ a: 1 });
    const err = await serverError(c.aggregate([{ $match: {} }, { $frobnicate: {} }]).toArray());
    expect(err.code).to.equal(40324);
    expect(err.message).to.equal("Unrecognized pipeline stage name: '$frobnicate'");
  });

  it('"$lookup … equality match": int64 and int32 keys match by value (item 10)', async () => {
    await t.db.collection('orders').insertMany([{ _id: 1, item: Long.fromNumber(7) }] as never);
    await t.db.collection('items').insertMany([{ _id: 7, name: 'seven' }, { _id: 8 }] as never);
    const [order] = await t.db
      .collection('orders')
      .aggregate<Document>([
        { $lookup: { from: 'items', localField: 'item', foreignField: '_id', as: 'found' } },
      ])
      .toArray();
    expect(order.found).to.deep.equal([{ _id: 7, name: 'seven' }]);
  });

  it('$match after $group uses the query language (numeric types by value)', async () => {
    const c = t.db.collection('grouped');
    await c.insertMany([
      { g: 'a', n: 1 },
      { g: 'a', n: 2 },
      { g: 'b', n: 5 },
    ]);
    const out = await c
      .aggregate([
        { $group: { _id: '$g', total: { $sum: '$n' } } },
        { $match: { total: { $gte: Long.fromNumber(3) } } },
        { $sort: { _id: 1 } },
      ])
      .toArray();
    expect(out).to.deep.equal([
      { _id: 'a', total: 3 },
      { _id: 'b', total: 5 },
    ]);
  });

  it('"$avg … Decimal128" is computed in decimal arithmetic (item 10)', async () => {
    const c = t.db.collection('decimals');
    await c.insertMany(['0.1', '0.2', '0.4'].map((v) => ({ v: Decimal128.fromString(v) })));
    const [r] = await c.aggregate([{ $group: { _id: null, avg: { $avg: '$v' } } }]).toArray();
    expect(r.avg).to.be.instanceOf(Decimal128);
    expect(r.avg.toString()).to.equal('0.2333333333333333333333333333333333');
  });

  it('"BSON types are preserved": an integral double stays a double through $match, $sort, $unwind, $lookup and $group (item 10)', async () => {
    const c = t.db.collection('doubles');
    await c.insertMany([
      { _id: 1, d: new Double(5), list: [new Double(1)] },
      { _id: 2, d: new Double(7), list: [] },
    ] as never);
    const raw = { promoteValues: false } as const;
    const [doc] = await c
      .aggregate<Document>(
        [
          { $match: { d: { $gte: 5 } } },
          { $sort: { d: 1 } },
          { $unwind: '$list' },
          { $lookup: { from: 'doubles', localField: 'd', foreignField: 'd', as: 'same' } },
          { $project: { d: 1, list: 1, same: 1 } },
        ],
        raw,
      )
      .toArray();
    expect(doc.d).to.be.instanceOf(Double);
    expect(doc.list).to.be.instanceOf(Double);
    expect(doc.same[0].d).to.be.instanceOf(Double);
    const [sum] = await c
      .aggregate<Document>(
        [{ $group: { _id: null, total: { $sum: '$d' }, top: { $max: '$d' } } }],
        raw,
      )
      .toArray();
    expect(sum.total).to.be.instanceOf(Double);
    expect(sum.total.valueOf()).to.equal(12);
    expect(sum.top).to.be.instanceOf(Double);
  });
});
