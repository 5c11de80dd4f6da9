import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Binary, Decimal128, ObjectId, serialize } from 'bson';
import { expect } from 'chai';
import { encodeFrame } from '../../src/store/durability/frames.js';
import { openFilePersistence } from '../../src/store/durability/index.js';
import { WARN, capturingLogger, frameStarts, loadAll, tempDir } from './fixtures/crash-helpers.js';

const JOURNAL = 'journal-000000000001.log';

/** A data directory holding three appended batches: [a1], [b1, b2, b3], [c1, c2]. */
async function threeBatches(): Promise<string> {
  const dir = tempDir();
  const persistence = await openFilePersistence(dir);
  await loadAll(persistence);
  await persistence.append([{ k: 'a1' }]);
  await persistence.append([{ k: 'b1' }, { k: 'b2' }, { k: 'b3' }]);
  await persistence.append([{ k: 'c1' }, { k: 'c2' }]);
  await persistence.close();
  return dir;
}

/** A copy of `source`'s journal in a fresh directory, altered by `damage`. */
function damagedCopy(source: string, damage: (file: string) => void): string {
  const dir = tempDir();
  copyFileSync(path.join(source, JOURNAL), path.join(dir, JOURNAL));
  damage(path.join(dir, JOURNAL));
  return dir;
}

function flipByte(file: string, offset: number): void {
  const buf = readFileSync(file);
  buf[offset] ^= 0x5a;
  writeFileSync(file, buf);
}

async function reopen(dir: string) {
  const { logger, lines } = capturingLogger();
  const persistence = await openFilePersistence(dir, { logger });
  try {
    const records = await loadAll(persistence);
    return {
      records: records.map((r) => r.k as string),
      warnings: lines.filter((l) => l.level === WARN),
    };
  } finally {
    await persistence.close();
  }
}

describe('store durability: journal', () => {
  it('replays appended records in order across a reopen, keeping BSON types', async () => {
    const dir = tempDir();
    const id = new ObjectId();
    const first = await openFilePersistence(dir);
    expect(await loadAll(first)).to.deep.equal([]);
    await first.append([{ op: 'insert', doc: { _id: id, n: 1, big: 2n ** 40n, d: new Date(5) } }]);
    await first.append([{ op: 'update', price: Decimal128.fromString('1.10') }, { op: 'x' }]);
    expect(first.stats().records).to.equal(3);
    await first.close();

    const { logger, lines } = capturingLogger();
    const second = await openFilePersistence(dir, { logger });
    const records = await loadAll(second);
    expect(records.map((r) => r.op as string)).to.deep.equal(['insert', 'update', 'x']);
    expect(records[0].doc._id.equals(id)).to.equal(true);
    expect(records[0].doc.big).to.equal(2n ** 40n);
    expect(records[0].doc.d).to.deep.equal(new Date(5));
    expect(records[1].price.toString()).to.equal('1.10');
    const replayed = lines.find((l) => l.msg.startsWith('store replayed'));
    expect(replayed).to.include({ records: 3 });
    await second.append([{ op: 'after' }]);
    await second.close();
    const third = await openFilePersistence(dir);
    expect((await loadAll(third)).map((r) => r.op as string)).to.deep.equal([
      'insert',
      'update',
      'x',
      'after',
    ]);
    await third.close();
  });

  it('keeps concurrent appends in call order (group commit)', async () => {
    const dir = tempDir();
    const persistence = await openFilePersistence(dir);
    await loadAll(persistence);
    await Promise.all(Array.from({ length: 200 }, (_, i) => persistence.append([{ i }])));
    await persistence.close();
    const again = await openFilePersistence(dir);
    const records = await loadAll(again);
    await again.close();
    expect(records.map((r) => r.i as number)).to.deep.equal(
      Array.from({ length: 200 }, (_, i) => i),
    );
  });

  it('drops a torn last batch whole, at every byte where it may end, and says where', async () => {
    const source = await threeBatches();
    const { starts, length } = frameStarts(path.join(source, JOURNAL));
    const last = starts[starts.length - 1];
    for (let cut = last + 1; cut < length; cut++) {
      const dir = damagedCopy(source, (file) => truncateSync(file, cut));
      const { records, warnings } = await reopen(dir);
      expect(records, `cut at ${cut}`).to.deep.equal(['a1', 'b1', 'b2', 'b3']);
      expect(warnings, `cut at ${cut}`).to.have.length(1);
      expect(warnings[0]).to.include({ offset: last, droppedBytes: cut - last });
      expect(warnings[0].msg).to.contain(`at byte ${last}`);
      // The tail is gone for good: the next start is clean and appends follow the kept records.
      const persistence = await openFilePersistence(dir);
      await loadAll(persistence);
      await persistence.append([{ k: 'd1' }]);
      await persistence.close();
      const after = await reopen(dir);
      expect(after.records).to.deep.equal(['a1', 'b1', 'b2', 'b3', 'd1']);
      expect(after.warnings).to.deep.equal([]);
    }
  });

  it('drops a last batch with any flipped byte and keeps every earlier record', async () => {
    const source = await threeBatches();
    const { starts, length } = frameStarts(path.join(source, JOURNAL));
    const last = starts[starts.length - 1];
    for (let at = last; at < length; at++) {
      const dir = damagedCopy(source, (file) => flipByte(file, at));
      const { records, warnings } = await reopen(dir);
      expect(records, `flip at ${at}`).to.deep.equal(['a1', 'b1', 'b2', 'b3']);
      expect(warnings[0], `flip at ${at}`).to.include({ offset: last });
    }
  });

  it('does not mistake frames stored inside a damaged last record for records that follow', async () => {
    const dir = tempDir();
    const persistence = await openFilePersistence(dir);
    await loadAll(persistence);
    await persistence.append([{ k: 'a1' }]);
    // A document holding a copy of a journal frame (say, an uploaded backup of a journal).
    const inner = encodeFrame([serialize({ k: 'inner' })], 1);
    await persistence.append([{ k: 'upload', data: new Binary(inner) }, { k: 'tail' }]);
    await persistence.close();
    const { starts, length } = frameStarts(path.join(dir, JOURNAL));
    const last = starts[starts.length - 1];
    for (const damage of [
      (file: string) => truncateSync(file, length - 3),
      (file: string) => flipByte(file, length - 3),
    ]) {
      const { records, warnings } = await reopen(damagedCopy(dir, damage));
      expect(records).to.deep.equal(['a1']);
      expect(warnings[0]).to.include({ offset: last, droppedRecords: 2 });
    }
  });

  it('treats zeros after the last frame (a pre-allocated tail) as a torn tail', async () => {
    const source = await threeBatches();
    const dir = damagedCopy(source, (file) =>
      writeFileSync(file, Buffer.alloc(4096), { flag: 'a' }),
    );
    const { records, warnings } = await reopen(dir);
    expect(records).to.deep.equal(['a1', 'b1', 'b2', 'b3', 'c1', 'c2']);
    expect(warnings[0]).to.include({ droppedBytes: 4096 });
  });

  it('refuses to start when damage is followed by valid records', async () => {
    const source = await threeBatches();
    const { starts } = frameStarts(path.join(source, JOURNAL));
    for (const at of [starts[1] + 2, starts[1] + 30, starts[2] + 10]) {
      const dir = damagedCopy(source, (file) => flipByte(file, at));
      const persistence = await openFilePersistence(dir);
      const error = await loadAll(persistence).then(
        () => null,
        (e: Error) => e,
      );
      await persistence.close();
      expect(error?.message, `flip at ${at}`).to.contain(
        `${path.join(dir, JOURNAL)} is damaged at byte`,
      );
      expect(error?.message).to.contain('refusing to start');
    }
  });

  for (const fsync of ['batch', 'never'] as const) {
    it(`keeps what was appended with fsync '${fsync}' across a reopen`, async () => {
      const dir = tempDir();
      const persistence = await openFilePersistence(dir, { fsync });
      await loadAll(persistence);
      await Promise.all([persistence.append([{ k: 'a' }]), persistence.append([{ k: 'b' }])]);
      await new Promise((resolve) => setTimeout(resolve, 80)); // past the batch fsync timer
      await persistence.append([{ k: 'c' }]);
      await persistence.close();
      expect((await reopen(dir)).records).to.deep.equal(['a', 'b', 'c']);
    });
  }

  it('refuses appends before load() and after close()', async () => {
    const persistence = await openFilePersistence(tempDir());
    const before = await persistence.append([{ a: 1 }]).catch((e: Error) => e.message);
    expect(before).to.contain('before load()');
    await loadAll(persistence);
    await persistence.close();
    const after = await persistence.append([{ a: 1 }]).catch((e: Error) => e.message);
    expect(after).to.contain('closed');
  });
});
