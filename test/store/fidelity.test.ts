/* eslint-disable @typescript-eslint/no-unsafe-return -- documents read through the driver are untyped */
import { expect } from 'chai';
import { Decimal128, Double, Int32, Long, MongoServerError, type Document } from 'mongodb';
import { connectTestDb, type TestDb } from './helpers.js';

const raw = { promoteLongs: false, promoteValues: false } as const;

async function errorOf(p: Promise<unknown>): Promise<MongoServerError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'expected the server to refuse').to.be.instanceOf(MongoServerError);
  return err as MongoServerError;
}

describe('store: MongoDB fidelity (types and error codes)', () => {
  let t: TestDb;
  before(async () => {
    t = await connectTestDb();
  });
  after(async () => {
    await t.close();
  });

  it('keeps numeric types through $inc, $mul, $min and $max', async () => {
    const c = t.db.collection('numbers');
    await c.insertOne({
      _id: 1 as never,
      long: Long.fromNumber(5),
      int: new Int32(2147483647),
      dec: Decimal128.fromString('0.1'),
      dbl: new Double(1.5),
    });
    await c.updateOne(
      { _id: 1 as never },
      {
        $inc: { long: 1, int: 1, dec: Decimal128.fromString('0.2'), dbl: 1 },
        $max: { top: Long.fromNumber(7) },
      },
    );
    const doc = (await c.findOne({ _id: 1 as never }, raw)) as Document;
    expect(doc.long).to.be.instanceOf(Long);
    expect(doc.long.toString()).to.equal('6');
    expect(doc.int).to.be.instanceOf(Long);
    expect(doc.int.toString()).to.equal('2147483648');
    expect(doc.dec).to.be.instanceOf(Decimal128);
    expect(doc.dec.toString()).to.equal('0.3');
    expect(doc.dbl).to.be.instanceOf(Double);
    expect(doc.dbl.valueOf()).to.equal(2.5);
    expect(doc.top).to.be.instanceOf(Long);
    await c.updateOne({ _id: 1 as never }, { $mul: { long: 3 }, $min: { top: 2 } });
    const after = (await c.findOne({ _id: 1 as never }, raw)) as Document;
    expect(after.long.toString()).to.equal('18');
    expect(after.top).to.be.instanceOf(Int32);
  });

  it('keeps an integral double a double, and an int32 an int32', async () => {
    const c = t.db.collection('doubles');
    await c.insertOne({
      _id: 1 as never,
      d: new Double(5),
      i: new Int32(5),
      arr: [new Double(1), 2],
    });
    const found = (await c.findOne({ d: 5, i: new Double(5) }, raw)) as Document;
    expect(found.d).to.be.instanceOf(Double);
    expect(found.i).to.be.instanceOf(Int32);
    expect(found.arr[0]).to.be.instanceOf(Double);
    expect(found.arr[1]).to.be.instanceOf(Int32);
    await c.updateOne({ _id: 1 as never }, { $inc: { d: 1, i: 1 } });
    const after = (await c.findOne({ _id: 1 as never }, raw)) as Document;
    expect(after.d).to.be.instanceOf(Double);
    expect(after.d.valueOf()).to.equal(6);
    expect(after.i).to.be.instanceOf(Int32);
    const [avg] = await c.aggregate([{ $group: { _id: null, a: { $avg: '$d' } } }], raw).toArray();
    expect(avg.a).to.be.instanceOf(Double);
  });

  it('sums int64 and Decimal128 values in aggregations', async () => {
    const c = t.db.collection('sums');
    await c.insertMany([
      { g: 'l', v: Long.fromString('9007199254740993') },
      { g: 'l', v: Long.fromNumber(1) },
      { g: 'd', v: Decimal128.fromString('0.1') },
      { g: 'd', v: Decimal128.fromString('0.2') },
      { g: 'i', v: 3 },
      { g: 'i', v: 4 },
    ]);
    const out = await c
      .aggregate(
        [{ $group: { _id: '$g', s: { $sum: '$v' }, a: { $avg: '$v' } } }, { $sort: { _id: 1 } }],
        raw,
      )
      .toArray();
    expect(out.map((d) => [d._id, d.s.toString()])).to.deep.equal([
      ['d', '0.3'],
      ['i', '7'],
      ['l', '9007199254740994'],
    ]);
    expect(out[0].s).to.be.instanceOf(Decimal128);
    expect(out[2].s).to.be.instanceOf(Long);
    expect(out[1].a.valueOf()).to.equal(3.5);
    const [facet] = await c
      .aggregate([
        { $facet: { big: [{ $match: { v: { $gt: Long.fromNumber(100) } } }, { $count: 'n' }] } },
      ])
      .toArray();
    expect(facet.big).to.deep.equal([{ n: 1 }]);
    expect(await c.countDocuments({ v: { $type: 'long' } })).to.equal(2);
    expect(await c.countDocuments({ v: { $type: 'decimal' } })).to.equal(2);
    expect(await c.countDocuments({ v: { $type: 'int' } })).to.equal(2);
    expect(await c.countDocuments({ v: { $type: 'number' } })).to.equal(6);
    expect(await c.countDocuments({ v: { $type: 'double' } })).to.equal(0);
  });

  it('answers the common failures with MongoDB codes', async () => {
    const c = t.db.collection('errors');
    await c.insertOne({ _id: 1 as never, s: 'text', a: { b: 1 } });

    const nonNumeric = await errorOf(c.updateOne({ _id: 1 as never }, { $inc: { s: 1 } }));
    expect(nonNumeric.code).to.equal(14);
    expect(nonNumeric.message).to.equal(
      "Cannot apply $inc to a value of non-numeric type. {_id: 1} has the field 's' of non-numeric type string",
    );

    const unknownModifier = await errorOf(c.updateOne({ _id: 1 as never }, { $frob: { s: 1 } }));
    expect(unknownModifier.code).to.equal(9);

    const conflict = await errorOf(
      c.updateOne({ _id: 1 as never }, { $set: { a: 1 }, $unset: { 'a.b': '' } }),
    );
    expect(conflict.code).to.equal(40);
    expect(conflict.message).to.equal("Updating the path 'a.b' would create a conflict at 'a'");

    const notViable = await errorOf(c.updateOne({ _id: 1 as never }, { $set: { 's.x': 1 } }));
    expect(notViable.code).to.equal(28);
    const notArray = await errorOf(
      c.updateOne({ _id: 1 as never }, { $push: { s: 1 } } as Document),
    );
    expect(notArray.code).to.equal(2);
    expect(notArray.message).to.equal(
      "The field 's' must be an array but is of type string in document {_id: 1}",
    );

    const immutable = await errorOf(c.replaceOne({ _id: 1 as never }, { _id: 2, s: 'x' }));
    expect(immutable.code).to.equal(66);

    const badQuery = await errorOf(c.find({ s: { $frob: 1 } }).toArray());
    expect(badQuery.code).to.equal(2);

    const missing = await errorOf(t.db.collection('absent').dropIndex('x_1'));
    expect(missing.code).to.equal(26);
    expect(await c.findOne({ _id: 1 as never })).to.deep.equal({ _id: 1, s: 'text', a: { b: 1 } });
  });
});
