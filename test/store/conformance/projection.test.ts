import { expect } from 'chai';
import { type Collection, type Document } from 'mongodb';
import { connectTestDb, type TestDb } from '../helpers.js';
import { serverError } from './helpers.js';

/*
 * find projections, each case named after the rule of the MongoDB manual it checks
 * (https://www.mongodb.com/docs/manual/reference/operator/projection/).
 */
describe('store conformance: projection', () => {
  let t: TestDb;
  let c: Collection<Document>;
  before(async () => {
    t = await connectTestDb();
    c = t.db.collection('players');
    await c.insertOne({
      _id: 1,
      name: 'p1',
      games: [
        { game: 'abc', score: 8 },
        { game: 'xyz', score: 5 },
      ],
      scores: [1, 6, 7],
      joined: 2020,
    } as never);
  });
  after(async () => {
    await t.close();
  });
  const first = async (projection: Document, filter: Document = {}) =>
    (await c.find(filter, { projection }).toArray())[0];

  describe('$slice (item 1)', () => {
    it('"$slice … alone": every field is returned, the array sliced', async () => {
      expect(Object.keys(await first({ scores: { $slice: 1 } }))).to.deep.equal([
        '_id',
        'name',
        'games',
        'scores',
        'joined',
      ]);
      expect((await first({ scores: { $slice: -2 } })).scores).to.deep.equal([6, 7]);
      expect((await first({ scores: { $slice: [1, 1] } })).scores).to.deep.equal([6]);
    });

    it('"If the $slice projection is part of an exclusion projection, the operation continues to return the other fields"', async () => {
      expect(await first({ name: 0, games: 0, scores: { $slice: 1 } })).to.deep.equal({
        _id: 1,
        scores: [1],
        joined: 2020,
      });
    });

    it('with an inclusion: the included fields and the slice, _id first (document order)', async () => {
      const doc = await first({ joined: 1, scores: { $slice: 1 } });
      expect(doc).to.deep.equal({ _id: 1, scores: [1], joined: 2020 });
      expect(Object.keys(doc)).to.deep.equal(['_id', 'scores', 'joined']);
    });
  });

  describe('$elemMatch (item 12)', () => {
    it('"$elemMatch … operator conditions" on a scalar array: {$gte}, {$in}', async () => {
      expect(await first({ scores: { $elemMatch: { $gte: 5 } } })).to.deep.equal({
        _id: 1,
        scores: [6],
      });
      expect(await first({ scores: { $elemMatch: { $in: [7, 9] } } })).to.deep.equal({
        _id: 1,
        scores: [7],
      });
    });

    it('"the $elemMatch projection … returns the field after the other existing field inclusions"; absent when nothing matches', async () => {
      const doc = await first({ games: { $elemMatch: { score: { $lt: 6 } } }, joined: 1 });
      expect(Object.keys(doc)).to.deep.equal(['_id', 'joined', 'games']);
      expect(doc.games).to.deep.equal([{ game: 'xyz', score: 5 }]);
      expect(await first({ games: { $elemMatch: { score: 100 } } })).to.deep.equal({ _id: 1 });
    });
  });

  describe('inclusion, exclusion and positional', () => {
    it('"<field>.$" returns the first element the query matched', async () => {
      const doc = await first({ 'games.$': 1 }, { 'games.score': { $lt: 6 } });
      expect(doc).to.deep.equal({ _id: 1, games: [{ game: 'xyz', score: 5 }] });
    });

    it('embedded fields through arrays of documents; _id: 0', async () => {
      expect(await first({ 'games.game': 1, _id: 0 })).to.deep.equal({
        games: [{ game: 'abc' }, { game: 'xyz' }],
      });
      expect(await first({ 'games.score': 0, scores: 0, name: 0 })).to.deep.equal({
        _id: 1,
        games: [{ game: 'abc' }, { game: 'xyz' }],
        joined: 2020,
      });
    });

    it('"Cannot do exclusion on field … in inclusion projection" (31254), and the reverse (31253)', async () => {
      const mixed = await serverError(c.find({}, { projection: { name: 1, joined: 0 } }).toArray());
      expect(mixed.code).to.equal(31254);
      expect(mixed.message).to.equal('Cannot do exclusion on field joined in inclusion projection');
      const reverse = await serverError(
        c.find({}, { projection: { name: 0, joined: 1 } }).toArray(),
      );
      expect(reverse.code).to.equal(31253);
      expect(reverse.message).to.equal(
        'Cannot do inclusion on field joined in exclusion projection',
      );
    });
  });
});
