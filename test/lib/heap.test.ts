import { expect } from 'chai';
import { boundHeapGrowth } from '../../src/lib/heap.js';

describe('boundHeapGrowth', () => {
  it('bounds the heap at 1.5 times what survived when node was given no growth of its own', () => {
    expect(boundHeapGrowth([], '')).to.equal(50);
    expect(boundHeapGrowth(['--enable-source-maps'], '--max-old-space-size=2048')).to.equal(50);
  });

  it('leaves the growth to node when its arguments or NODE_OPTIONS set one', () => {
    expect(boundHeapGrowth(['--heap-growing-percent=80'], '')).to.equal(null);
    expect(boundHeapGrowth([], '--max-old-space-size=2048 --heap_growing_percent=80')).to.equal(
      null,
    );
    expect(boundHeapGrowth(['--heap-growing-percent', '80'], '')).to.equal(null);
  });
});
