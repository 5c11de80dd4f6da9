import { expect } from 'chai';
import {
  Binary,
  DBRef,
  Decimal128,
  Double,
  Long,
  ObjectId,
  type Collection,
  type Document,
} from 'mongodb';
import { connectTestDb, type TestDb } from '../helpers.js';
import { ids } from './helpers.js';

/*
 * Query operators, each case named after the rule of the MongoDB manual it checks
 * (https://www.mongodb.com/docs/manual/reference/operator/query/).
 */
describe('store conformance: query operators', () => {
  let t: TestDb;
  let c: Collection<Document>;
  before(async () => {
    t = await connectTestDb();
  });
  after(async () => {
    await t.close();
  });
  beforeEach(() => {
    c = t.db.collection(`q${Math.random().toString(36).slice(2)}`);
  });

  const found = async (filter: Document): Promise<unknown[]> =>
    ids(await c.find(filter).sort({ _id: 1 }).toArray());

  describe('$all (item 3)', () => {
    it('"$all is equivalent to an $and of equalities": a scalar field equal to the single value matches', async () => {
      await c.insertMany([
        { _id: 1, s: 'a' },
        { _id: 2, s: 'b' },
        { _id: 3, s: ['a', 'c'] },
      ] as never);
      expect(await found({ s: { $all: ['a'] } })).to.deep.equal([1, 3]);
      expect(await found({ s: { $all: ['a', 'c'] } })).to.deep.equal([3]);
    });

    it('"{ tags: { $all: [[ "ssl", "security" ]] } }" matches tags equal to that array, and arrays holding it', async () => {
      await c.insertMany([
        { _id: 1, tags: ['a', 'b'] },
        { _id: 2, tags: [['a', 'b'], 'c'] },
        { _id: 3, tags: ['a'] },
      ] as never);
      expect(await found({ tags: { $all: [['a', 'b']] } })).to.deep.equal([1, 2]);
    });

    it('an empty $all matches nothing; $all with $elemMatch elements', async () => {
      await c.insertMany([
        { _id: 1, r: [{ x: 1 }, { x: 5 }] },
        { _id: 2, r: [{ x: 1 }] },
      ] as never);
      expect(await found({ r: { $all: [] } })).to.deep.equal([]);
      expect(
        await found({ r: { $all: [{ $elemMatch: { x: 1 } }, { $elemMatch: { x: { $gt: 4 } } }] } }),
      ).to.deep.equal([1]);
    });

    it('compares int64, int32 and double by value (item 10)', async () => {
      await c.insertMany([
        { _id: 1, n: [1, 2] },
        { _id: 2, n: [Long.fromNumber(2)] },
      ] as never);
      expect(await found({ n: { $all: [Long.fromNumber(2)] } })).to.deep.equal([1, 2]);
      expect(await found({ n: { $all: [new Double(2)] } })).to.deep.equal([1, 2]);
      expect(await found({ n: { $elemMatch: { $eq: Long.fromNumber(2) } } })).to.deep.equal([1, 2]);
    });
  });

  describe('dotted paths through arrays (item 10)', () => {
    it('"a.b" looks into documents of an array, not into arrays nested in it', async () => {
      await c.insertMany([
        { _id: 1, a: [['x']] },
        { _id: 2, a: [{ b: 'x' }] },
        { _id: 3, a: [[{ b: 'x' }]] },
      ] as never);
      expect(await found({ 'a.b': 'x' })).to.deep.equal([2]);
    });

    it('"{ item: null }" matches null and missing fields, also an array element lacking the field', async () => {
      await c.insertMany([
        { _id: 1, a: [{ b: 1 }, { c: 1 }] },
        { _id: 2, a: [{ b: 1 }] },
        { _id: 3 },
        { _id: 4, a: { b: null } },
      ] as never);
      expect(await found({ 'a.b': null })).to.deep.equal([1, 3, 4]);
      expect(await found({ 'a.b': { $exists: false } })).to.deep.equal([3]);
    });

    it('a numeric path component indexes the array', async () => {
      await c.insertMany([
        { _id: 1, a: [{ b: 1 }, { b: 2 }] },
        { _id: 2, a: [{ b: 2 }] },
      ] as never);
      expect(await found({ 'a.1.b': 2 })).to.deep.equal([1]);
      expect(await found({ 'a.0.b': 2 })).to.deep.equal([2]);
    });
  });

  describe('DBRef fields (item 7)', () => {
    it('"DBRefs … $ref, $id, $db fields": queries on field.$id and $elemMatch on $id find the reference', async () => {
      const user = new ObjectId();
      await c.insertMany([
        { _id: 1, members: [new DBRef('users', user)] },
        { _id: 2, members: [new DBRef('users', new ObjectId())] },
        { _id: 3, owner: new DBRef('users', user, 'other') },
      ] as never);
      expect(await found({ 'members.$id': user })).to.deep.equal([1]);
      expect(await found({ members: { $elemMatch: { $id: user, $ref: 'users' } } })).to.deep.equal([
        1,
      ]);
      expect(await found({ 'owner.$db': 'other' })).to.deep.equal([3]);
      const [doc] = await c.find({ _id: 1 as never }).toArray();
      expect(doc.members[0]).to.be.instanceOf(DBRef);
      expect(doc.members[0].oid.equals(user)).to.equal(true);
    });
  });

  describe('$bits* (item 8)', () => {
    it('"$bitsAllSet … BinData": bit positions are read from Binary values (bit 0 is the lowest bit of the first byte)', async () => {
      await c.insertMany([
        { _id: 1, v: new Binary(Buffer.from([0b0000_0101]), 0) },
        { _id: 2, v: new Binary(Buffer.from([0b0000_0001, 0x80]), 4) },
        { _id: 3, v: 5 },
      ] as never);
      expect(await found({ v: { $bitsAllSet: [0, 2] } })).to.deep.equal([1, 3]);
      expect(await found({ v: { $bitsAnySet: [15] } })).to.deep.equal([2]);
      expect(await found({ v: { $bitsAllSet: new Binary(Buffer.from([0b101])) } })).to.deep.equal([
        1, 3,
      ]);
      expect(await found({ v: { $bitsAnyClear: 4 } })).to.deep.equal([2]);
    });

    it('"$bitsAllClear" does not match documents lacking the field, nor non-numeric values', async () => {
      await c.insertMany([
        { _id: 1, v: 8 },
        { _id: 2 },
        { _id: 3, v: 'x' },
        { _id: 4, v: -1 },
      ] as never);
      expect(await found({ v: { $bitsAllClear: [0, 1] } })).to.deep.equal([1]);
      // Negative numbers are two's complement, sign-extended past bit 63.
      expect(await found({ v: { $bitsAllSet: [0, 100] } })).to.deep.equal([4]);
    });
  });

  describe('numeric types', () => {
    it('"comparison of different numeric types": int32, int64, double and Decimal128 compare by value', async () => {
      await c.insertMany([
        { _id: 1, n: 1 },
        { _id: 2, n: Long.fromNumber(2) },
        { _id: 3, n: new Double(3) },
        { _id: 4, n: Decimal128.fromString('4.0') },
      ] as never);
      expect(
        await found({ n: { $gte: Long.fromNumber(2), $lt: Decimal128.fromString('4') } }),
      ).to.deep.equal([2, 3]);
      expect(await found({ n: { $in: [Decimal128.fromString('1'), 3] } })).to.deep.equal([1, 3]);
      expect(await found({ $expr: { $eq: ['$n', Long.fromNumber(2)] } })).to.deep.equal([2]);
    });
  });

  describe('logical operators and $not', () => {
    it('"$nor … or do not contain the field"; $not with an operator and a regex', async () => {
      await c.insertMany([
        { _id: 1, a: 1, s: 'abc' },
        { _id: 2, a: 2 },
        { _id: 3, s: 'xyz' },
      ] as never);
      expect(await found({ $nor: [{ a: 1 }, { s: /^x/ }] })).to.deep.equal([2]);
      expect(await found({ a: { $not: { $gt: 1 } } })).to.deep.equal([1, 3]);
      expect(await found({ s: { $not: /^a/ } })).to.deep.equal([2, 3]);
    });

    it('answers an unknown operator with code 2, as MongoDB', async () => {
      const err = await c
        .find({ a: { $foo: 1 } })
        .toArray()
        .then(
          () => null,
          (e: { code: number }) => e,
        );
      expect(err?.code).to.equal(2);
    });
  });
});
