import { expect } from 'chai';
import { Binary, DBRef, Long, ObjectId, type Collection, type Document } from 'mongodb';
import { connectTestDb, type TestDb } from '../helpers.js';
import { serverError } from './helpers.js';

/*
 * Update operators, each case named after the rule of the MongoDB manual it checks
 * (https://www.mongodb.com/docs/manual/reference/operator/update/).
 */
describe('store conformance: update operators', () => {
  let t: TestDb;
  let c: Collection<Document>;
  before(async () => {
    t = await connectTestDb();
  });
  after(async () => {
    await t.close();
  });
  beforeEach(() => {
    c = t.db.collection(`u${Math.random().toString(36).slice(2)}`);
  });
  const one = (id: number) => c.findOne({ _id: id as never });

  describe('$pull (item 2)', () => {
    it('"If the specified <value> to remove is a document, $pull removes only the elements … matching": $or, $and and $nor apply to each element', async () => {
      const kids = [{ a: 1, b: 2 }, { a: 2, b: 3 }, { a: 3, b: 4 }, { a: 4 }];
      await c.insertMany([
        { _id: 1, kids },
        { _id: 2, kids },
        { _id: 3, kids },
      ] as never);
      await c.updateOne({ _id: 1 as never }, {
        $pull: { kids: { $or: [{ a: 1 }, { b: 3 }] } },
      } as never);
      await c.updateOne({ _id: 2 as never }, {
        $pull: { kids: { $and: [{ a: { $gt: 1 } }, { b: { $exists: true } }] } },
      } as never);
      await c.updateOne({ _id: 3 as never }, {
        $pull: { kids: { $nor: [{ a: 1 }, { a: 2 }] } },
      } as never);
      expect((await one(1))?.kids).to.deep.equal([{ a: 3, b: 4 }, { a: 4 }]);
      expect((await one(2))?.kids).to.deep.equal([{ a: 1, b: 2 }, { a: 4 }]);
      expect((await one(3))?.kids).to.deep.equal([
        { a: 1, b: 2 },
        { a: 2, b: 3 },
      ]);
    });

    it('"$pull … condition on the array elements": operator conditions apply to scalar elements; int64 compares by value (item 10)', async () => {
      await c.insertOne({ _id: 1, n: [1, 5, 8, 2] } as never);
      await c.updateOne({ _id: 1 as never }, { $pull: { n: { $gte: 5 } } } as never);
      await c.updateOne({ _id: 1 as never }, { $pull: { n: Long.fromNumber(2) } } as never);
      expect((await one(1))?.n).to.deep.equal([1]);
    });
  });

  describe('$addToSet', () => {
    it('"$addToSet only ensures that there are no duplicate items": int64 2 duplicates int32 2 (item 10)', async () => {
      await c.insertOne({ _id: 1, n: [1, 2] } as never);
      const r = await c.updateOne(
        { _id: 1 as never },
        {
          $addToSet: { n: Long.fromNumber(2) },
        },
      );
      expect(r.modifiedCount).to.equal(0);
      await c.updateOne({ _id: 1 as never }, { $addToSet: { n: { $each: [3, 3, 1] } } });
      expect((await one(1))?.n).to.deep.equal([1, 2, 3]);
    });
  });

  describe('positional operators (item 11)', () => {
    it('"$ … update … the first element that matches": two fields of the same element in one update', async () => {
      await c.insertOne({
        _id: 1,
        children: [
          { id: 1, name: 'a' },
          { id: 2, name: 'b' },
        ],
      } as never);
      const at = new Date('2026-01-01T00:00:00Z');
      await c.updateOne(
        { _id: 1 as never, 'children.id': 2 },
        {
          $set: { 'children.$.name': 'B', 'children.$.updatedAt': at },
        },
      );
      expect((await one(1))?.children).to.deep.equal([
        { id: 1, name: 'a' },
        { id: 2, name: 'B', updatedAt: at },
      ]);
    });

    it('"$[] … all elements" and "$[<identifier>] … elements that match the arrayFilters": two fields each', async () => {
      await c.insertOne({ _id: 1, items: [{ k: 1 }, { k: 2 }, { k: 3 }] } as never);
      await c.updateOne(
        { _id: 1 as never },
        {
          $set: { 'items.$[].x': 1, 'items.$[].y': 2 },
        },
      );
      await c.updateOne(
        { _id: 1 as never },
        { $set: { 'items.$[big].x': 9, 'items.$[big].z': true } },
        { arrayFilters: [{ 'big.k': { $gte: 2 } }] },
      );
      expect((await one(1))?.items).to.deep.equal([
        { k: 1, x: 1, y: 2 },
        { k: 2, x: 9, y: 2, z: true },
        { k: 3, x: 9, y: 2, z: true },
      ]);
    });

    it('still refuses two updates of the same path with code 40', async () => {
      await c.insertOne({ _id: 1, a: [{ b: 1 }] } as never);
      const err = await serverError(
        c.updateOne(
          { _id: 1 as never, 'a.b': 1 },
          {
            $set: { 'a.$.b': 2 },
            $inc: { 'a.0.b': 1 },
          },
        ),
      );
      expect(err.code).to.equal(40);
    });

    it('"The positional $ operator … must appear in the query document": code 2 when nothing matched', async () => {
      await c.insertOne({ _id: 1, a: [1, 2] } as never);
      const err = await serverError(c.updateOne({ _id: 1 as never }, { $set: { 'a.$': 5 } }));
      expect(err.code).to.equal(2);
    });
  });

  describe('own __proto__ keys (item 5)', () => {
    it('"MongoDB stores the field name __proto__ as any other": it survives an unrelated $inc', async () => {
      await c.insertOne(JSON.parse('{"_id": 1, "n": 1, "__proto__": {"admin": true}}') as Document);
      await c.updateOne({ _id: 1 as never }, { $inc: { n: 1 } });
      const doc = await one(1);
      expect(Object.keys(doc!)).to.deep.equal(['_id', 'n', '__proto__']);
      expect(Object.getOwnPropertyDescriptor(doc, '__proto__')?.value).to.deep.equal({
        admin: true,
      });
      expect(doc!.n).to.equal(2);
    });

    it('$rename to "constructor.x" creates that field (no prototype property is taken for it)', async () => {
      await c.insertOne({ _id: 1, n: 5 } as never);
      await c.updateOne({ _id: 1 as never }, { $rename: { n: 'constructor.x' } });
      const doc = await one(1);
      expect(Object.getOwnPropertyDescriptor(doc, 'constructor')?.value).to.deep.equal({ x: 5 });
    });
  });

  describe('Binary subtypes (item 9)', () => {
    it('"$set … replaces the value": the same bytes with another subtype modify the document', async () => {
      await c.insertOne({ _id: 1, b: new Binary(Buffer.from([1, 2]), 0) } as never);
      const r = await c.updateOne(
        { _id: 1 as never },
        {
          $set: { b: new Binary(Buffer.from([1, 2]), 5) },
        },
      );
      expect(r.modifiedCount).to.equal(1);
      expect((await one(1))?.b.sub_type).to.equal(5);
      const again = await c.updateOne(
        { _id: 1 as never },
        {
          $set: { b: new Binary(Buffer.from([1, 2]), 5) },
        },
      );
      expect(again.modifiedCount).to.equal(0);
    });
  });

  describe('$-prefixed field names (item 13)', () => {
    it('"Upserts can accept dollar ($) prefixed fields" when they insert; an update of an existing document refuses them', async () => {
      await c.updateOne(
        { day: 1 },
        { $set: { phone: 25, $hotel: 320 } },
        {
          upsert: true,
        },
      );
      const doc = await c.findOne({ day: 1 });
      expect(doc?.$hotel).to.equal(320);
      await serverError(c.updateOne({ day: 1 }, { $set: { $hotel: 1 } }, { upsert: true }));
    });

    it('the fields of a DBRef ($ref, $id, $db) may be updated like any other', async () => {
      const [a, b] = [new ObjectId(), new ObjectId()];
      await c.insertOne({ _id: 1, owner: new DBRef('users', a) } as never);
      await c.updateOne({ _id: 1 as never }, { $set: { 'owner.$id': b } });
      const doc = await one(1);
      expect(doc?.owner).to.be.instanceOf(DBRef);
      expect(doc?.owner.oid.equals(b)).to.equal(true);
    });
  });

  describe('other operators', () => {
    it('$push with $each, $sort, $slice and $position; $pop; $unset of an array element sets null', async () => {
      await c.insertOne({ _id: 1, a: [5, 1], b: [1, 2, 3] } as never);
      await c.updateOne({ _id: 1 as never }, {
        $push: { a: { $each: [4, 9], $sort: -1, $slice: 3 } },
      } as never);
      await c.updateOne({ _id: 1 as never }, {
        $push: { a: { $each: [0], $position: 0 } },
        $pop: { b: -1 },
      } as never);
      await c.updateOne({ _id: 1 as never }, { $unset: { 'b.0': '' } });
      expect(await one(1)).to.deep.equal({ _id: 1, a: [0, 9, 5, 4], b: [null, 3] });
    });

    it('"Cannot create field … in element" (code 28) for a path through a scalar', async () => {
      await c.insertOne({ _id: 1, a: 5 } as never);
      const err = await serverError(c.updateOne({ _id: 1 as never }, { $set: { 'a.b': 1 } }));
      expect(err.code).to.equal(28);
    });
  });
});
