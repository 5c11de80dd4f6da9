/* eslint-disable @typescript-eslint/no-unsafe-return -- documents read through the driver are untyped */
import { expect } from 'chai';
import { Binary, Decimal128, Double, Int32, Long, ObjectId, UUID, type Document } from 'mongodb';
import mongoose, { Schema } from 'mongoose';

// An instance of its own: the app sets global mongoose options (sanitizeFilter) in other tests.
const odm = new mongoose.Mongoose();
import { connectTestDb, type TestDb } from './helpers.js';

describe('store: mongoose models', () => {
  let t: TestDb;
  let conn: mongoose.Connection;

  const Org = new Schema({ name: { type: String, required: true } }, { timestamps: true });
  const Person = new Schema(
    {
      name: String,
      email: { type: String, unique: true },
      age: Number,
      org: { type: Schema.Types.ObjectId, ref: 'Org' },
      joined: Date,
      score: Schema.Types.Decimal128,
    },
    { timestamps: true },
  );

  before(async () => {
    t = await connectTestDb();
    conn = await odm.createConnection(t.uri).asPromise();
    conn.model('Org', Org);
    conn.model('Person', Person);
    await conn.model('Person').init();
  });
  after(async () => {
    await conn.close();
    await t.close();
  });

  it('creates, queries, populates and deletes', async () => {
    const OrgModel = conn.model('Org');
    const PersonModel = conn.model('Person');
    const org = await OrgModel.create({ name: '長野センター' });
    await PersonModel.create([
      { name: 'A', email: 'a@example.jp', age: 30, org: org._id, joined: new Date('2024-04-01') },
      { name: 'B', email: 'b@example.jp', age: 40, org: org._id, score: '12.50' },
    ]);
    const people = (await PersonModel.find({ age: { $gte: 20 } })
      .sort({ age: -1 })
      .populate('org')
      .lean()) as Document[];
    expect(people.map((p) => p.name)).to.deep.equal(['B', 'A']);
    expect((people[0].org as { name: string }).name).to.equal('長野センター');
    expect(people[1].joined).to.be.instanceOf(Date);
    expect(String(people[0].score)).to.equal('12.50');
    expect(people[0].createdAt).to.be.instanceOf(Date);

    const updated = await PersonModel.findOneAndUpdate(
      { email: 'a@example.jp' },
      { $inc: { age: 1 } },
      { returnDocument: 'after' },
    );
    expect(updated!.get('age')).to.equal(31);

    const dup = await PersonModel.create({ name: 'C', email: 'a@example.jp' }).catch(
      (e: unknown) => e,
    );
    expect((dup as { code?: number }).code).to.equal(11000);

    expect(await PersonModel.countDocuments({ org: org._id })).to.equal(2);
    await PersonModel.deleteOne({ email: 'b@example.jp' });
    expect(await PersonModel.estimatedDocumentCount()).to.equal(1);
  });

  it('aggregates with $group, $lookup and $facet', async () => {
    const c = conn.collection('orders');
    const users = conn.collection('buyers');
    const u1 = new ObjectId();
    const u2 = new ObjectId();
    await users.insertMany([
      { _id: u1, name: 'u1' },
      { _id: u2, name: 'u2' },
    ]);
    await c.insertMany([
      { user: u1, amount: 5, status: 'paid' },
      { user: u1, amount: 7, status: 'paid' },
      { user: u2, amount: 3, status: 'open' },
    ]);
    const groups = await c
      .aggregate([
        { $match: { status: 'paid' } },
        { $group: { _id: '$user', total: { $sum: '$amount' }, n: { $sum: 1 } } },
        { $lookup: { from: 'buyers', localField: '_id', foreignField: '_id', as: 'buyer' } },
        { $unwind: '$buyer' },
        { $project: { _id: 0, name: '$buyer.name', total: 1, n: 1 } },
      ])
      .toArray();
    expect(groups).to.deep.equal([{ total: 12, n: 2, name: 'u1' }]);

    const [facets] = await c
      .aggregate([
        {
          $facet: {
            byStatus: [{ $group: { _id: '$status', n: { $sum: 1 } } }, { $sort: { _id: 1 } }],
            total: [{ $count: 'n' }],
          },
        },
      ])
      .toArray();
    expect(facets.byStatus).to.deep.equal([
      { _id: 'open', n: 1 },
      { _id: 'paid', n: 2 },
    ]);
    expect(facets.total).to.deep.equal([{ n: 3 }]);
    expect(await c.countDocuments({ amount: { $gt: 4 } })).to.equal(2);
    expect(await c.countDocuments({}, { skip: 1, limit: 1 })).to.equal(1);
  });

  it('keeps BSON types: Date, ObjectId, Int32, Long, Double, Decimal128, Binary, UUID', async () => {
    const c = conn.getClient().db(t.dbName).collection('types');
    const id = new ObjectId();
    const uuid = new UUID();
    await c.insertOne({
      _id: id,
      when: new Date('2025-01-02T03:04:05.678Z'),
      i32: new Int32(7),
      big: Long.fromString('9007199254740993'),
      small: Long.fromNumber(5),
      dbl: new Double(2.5),
      dec: Decimal128.fromString('0.1000000000000000000000000001'),
      bin: new Binary(Buffer.from([0, 1, 2, 255])),
      uuid,
      nested: [{ l: Long.fromNumber(1) }],
    });
    const raw = await c.findOne({ _id: id }, { promoteLongs: false, promoteValues: false });
    expect(raw!.when.toISOString()).to.equal('2025-01-02T03:04:05.678Z');
    expect(raw!.i32).to.be.instanceOf(Int32);
    expect(raw!.big).to.be.instanceOf(Long);
    expect(raw!.big.toString()).to.equal('9007199254740993');
    expect(raw!.small).to.be.instanceOf(Long);
    expect(raw!.dbl).to.be.instanceOf(Double);
    expect(raw!.dec.toString()).to.equal('0.1000000000000000000000000001');
    expect(Buffer.from((raw!.bin as Binary).buffer)).to.deep.equal(Buffer.from([0, 1, 2, 255]));
    expect((raw!.uuid as Binary).sub_type).to.equal(4);
    expect(raw!.nested[0].l).to.be.instanceOf(Long);

    const byUuid = await c.findOne({ uuid });
    expect(byUuid!._id.equals(id)).to.equal(true);
  });

  it('compares Long and Decimal128 numerically', async () => {
    const c = conn.getClient().db(t.dbName).collection('numbers');
    await c.insertMany([
      { k: 'l9', v: Long.fromNumber(9) },
      { k: 'l10', v: Long.fromNumber(10) },
      { k: 'i8', v: 8 },
      { k: 'd9.5', v: Decimal128.fromString('9.5') },
      { k: 'f11', v: 11.5 },
    ]);
    const gt = await c
      .find({ v: { $gt: Long.fromNumber(9) } })
      .sort({ v: 1 })
      .toArray();
    expect(gt.map((d) => d.k)).to.deep.equal(['d9.5', 'l10', 'f11']);
    expect((await c.find({ v: 10 }).toArray()).map((d) => d.k)).to.deep.equal(['l10']);
    const sorted = await c.find().sort({ v: -1 }).toArray();
    expect(sorted.map((d) => d.k)).to.deep.equal(['f11', 'l10', 'd9.5', 'l9', 'i8']);
    expect(
      (await c.find({ v: { $in: [Decimal128.fromString('9')] } }).toArray()).map((d) => d.k),
    ).to.deep.equal(['l9']);
  });
});
