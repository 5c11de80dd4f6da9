/**
 * A sorted sequence kept in chunks of bounded size, so an insertion or removal moves at most
 * one chunk's elements (a plain sorted array would shift half the index on every write).
 * Positions are found with monotone predicates: false for every element before the position,
 * true from it on.
 */

const maxChunk = 512;

export type Position = [chunk: number, index: number];

export class SortedList<T> {
  private chunks: T[][] = [];
  size = 0;

  /** First position whose element satisfies `atOrAfter` (end when none does). */
  lowerBound(atOrAfter: (x: T) => boolean): Position {
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid];
      if (atOrAfter(chunk[chunk.length - 1])) hi = mid;
      else lo = mid + 1;
    }
    if (lo === chunks.length) return [lo, 0];
    const chunk = chunks[lo];
    let a = 0;
    let b = chunk.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (atOrAfter(chunk[mid])) b = mid;
      else a = mid + 1;
    }
    return [lo, a];
  }

  at([c, i]: Position): T | undefined {
    return this.chunks[c]?.[i];
  }

  insert(value: T, atOrAfter: (x: T) => boolean): void {
    this.size++;
    if (this.chunks.length === 0) {
      this.chunks.push([value]);
      return;
    }
    let [c, i] = this.lowerBound(atOrAfter);
    if (c === this.chunks.length) {
      c--;
      i = this.chunks[c].length;
    }
    const chunk = this.chunks[c];
    chunk.splice(i, 0, value);
    if (chunk.length > maxChunk) this.chunks.splice(c + 1, 0, chunk.splice(chunk.length >> 1));
  }

  removeAt([c, i]: Position): void {
    const chunk = this.chunks[c];
    chunk.splice(i, 1);
    this.size--;
    if (chunk.length === 0) this.chunks.splice(c, 1);
  }

  clear(): void {
    this.chunks = [];
    this.size = 0;
  }

  /** Elements from a position on, forwards. */
  *from([c, i]: Position): Generator<T> {
    for (; c < this.chunks.length; c++, i = 0) {
      const chunk = this.chunks[c];
      for (; i < chunk.length; i++) yield chunk[i];
    }
  }

  /** Elements strictly before a position, backwards. */
  *before([c, i]: Position): Generator<T> {
    if (c >= this.chunks.length) {
      c = this.chunks.length - 1;
      i = this.chunks[c]?.length ?? 0;
    }
    for (; c >= 0; c--) {
      const chunk = this.chunks[c];
      if (i < 0) i = chunk.length;
      for (let j = i - 1; j >= 0; j--) yield chunk[j];
      i = -1;
    }
  }
}
