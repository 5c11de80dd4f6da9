import { expect } from 'chai';
import { queryOptions, runStreamStages, streamOptions } from '../../src/store/matcher.js';

describe("store: mingo's options prepared once", () => {
  it('queries and change-stream stages reuse one prepared ComputeOptions (no copy of ~300 operators per run)', () => {
    // Should a mingo upgrade hide the class, both would fall back to plain objects: same results,
    // but every query and every event would copy the whole operator context again.
    expect(queryOptions.constructor.name).to.equal('ComputeOptions');
    expect(streamOptions.constructor.name).to.equal('ComputeOptions');
  });

  it("runs a change stream's stages on one event, and filters it out", () => {
    const event = {
      _id: { _data: 'x' },
      operationType: 'insert',
      ns: { db: 'd', coll: 'c' },
      n: 2,
    };
    const stages = [
      { $match: { operationType: 'insert' } },
      { $project: { _id: 1, ns: 1 } },
      { $addFields: { twice: { $multiply: [2, 3] } } },
    ];
    expect(runStreamStages(event, stages)).to.deep.equal({
      _id: { _data: 'x' },
      ns: { db: 'd', coll: 'c' },
      twice: 6,
    });
    expect(runStreamStages(event, [{ $match: { operationType: 'update' } }])).to.equal(null);
  });
});
