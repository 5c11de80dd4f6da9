import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { startStore } from '../../src/store/index.js';
import { capturingLogger, tempDir } from './fixtures/crash-helpers.js';

const ROUNDS = 21;
const CHILD = path.join(import.meta.dirname, 'fixtures/crash-child.ts');
/** Small, so the child compacts every few hundred writes. */
const COMPACT_AFTER_BYTES = 32 * 1024;

type Fate = 'inserted' | 'updated' | 'deleting' | 'deleted';

/** What the parent knows for sure about each id from the child's acknowledgements. */
class Ledger {
  readonly fates = new Map<string, Fate>();

  read(line: string): void {
    const [what, id] = line.split(' ');
    if (what === 'ins') this.fates.set(id, 'inserted');
    else if (what === 'upd') this.fates.set(id, 'updated');
    else if (what === 'del?') this.fates.set(id, 'deleting');
    else if (what === 'del') this.fates.set(id, 'deleted');
  }

  /** Problems with what the store holds after a restart, empty when every ack is honoured. */
  check(docs: Map<string, { updated?: boolean }>): string[] {
    const problems: string[] = [];
    for (const [id, fate] of this.fates) {
      const doc = docs.get(id);
      if (fate === 'deleted' && doc) problems.push(`${id} was deleted but is back`);
      if ((fate === 'inserted' || fate === 'updated') && !doc) problems.push(`${id} is lost`);
      if (fate === 'updated' && doc && doc.updated !== true) problems.push(`${id} lost its update`);
      // A delete sent but not acknowledged may have happened or not: now the store decides.
      if (fate === 'deleting')
        this.fates.set(id, !doc ? 'deleted' : doc.updated ? 'updated' : 'inserted');
    }
    return problems;
  }
}

/**
 * Log lines that mean the store did not open cleanly: any error, and warnings about its files
 * (a dropped tail, a failed compaction). Taking over the killed child's lock and slow-operation
 * warnings are expected.
 */
function worrying(line: { level: number; msg: string }): boolean {
  return line.level >= 50 || (line.level >= 40 && /journal|snapshot|compact/i.test(line.msg));
}

interface RoundOutcome {
  /** Acknowledged writes missing when the child started (the restart after the previous kill). */
  problems: string[];
  /** What the child's store logged that is `worrying`. */
  logged: string[];
  killedWhileCompacting: boolean;
}

/** Runs the child until it is killed: `mode` picks the moment. */
function runChild(dir: string, round: number, mode: 'random' | 'compaction', ledger: Ledger) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, dir, String(round), String(COMPACT_AFTER_BYTES)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const found = new Map<string, { updated?: boolean }>();
  let problems: string[] = [];
  let pending = '';
  let ready = false;
  let killedWhileCompacting = false;
  const kill = () => child.kill('SIGKILL');
  const deadline = setTimeout(kill, 10_000);
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!ready && line.startsWith('have ')) {
        const [, id, updated] = line.split(' ');
        found.set(id, { updated: updated === '1' });
      }
      ledger.read(line);
      if (line === 'ready' && !ready) {
        ready = true;
        problems = ledger.check(found);
        // A compaction round is killed when a compaction starts, or after 2.5 s at the latest.
        setTimeout(kill, mode === 'random' ? 50 + Math.random() * 500 : 2500);
      }
      if (line === 'compacting' && mode === 'compaction' && ready && !killedWhileCompacting) {
        killedWhileCompacting = true;
        // A compaction takes a few fsyncs: 0–25 ms lands before, inside and after its rename.
        setTimeout(kill, Math.random() * 25);
      }
    }
  });
  return new Promise<RoundOutcome>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(deadline);
      if (pending) ledger.read(pending);
      if (signal !== 'SIGKILL' || !ready) {
        reject(new Error(`round ${round}: the child ended (${code ?? signal}): ${stderr}`));
        return;
      }
      const logged = stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: number; msg: string })
        .filter(worrying)
        .map((l) => l.msg);
      resolve({ problems, logged, killedWhileCompacting });
    });
  });
}

/** Opens the store the way the app does (startStore with a dataDir) and reads everything back. */
async function reopen(dir: string) {
  const { logger, lines } = capturingLogger();
  const store = await startStore({ dataDir: dir, logger });
  const client = new MongoClient(store.uri, { serverSelectionTimeoutMS: 5000 });
  try {
    const docs = await client.db('crash').collection<{ _id: string }>('items').find().toArray();
    return {
      found: new Map(docs.map((d) => [d._id, d as { updated?: boolean }])),
      logged: lines.filter(worrying).map((l) => l.msg),
    };
  } finally {
    await client.close();
    await store.close();
  }
}

describe('store crash safety', function () {
  this.timeout(120_000);

  it(`keeps every acknowledged write through ${ROUNDS} SIGKILLs, some during compaction`, async () => {
    const dir = tempDir();
    const ledger = new Ledger();
    let duringCompaction = 0;
    // Each child's start is the restart after the previous kill: it reports what it found.
    for (let round = 1; round <= ROUNDS; round++) {
      const mode = round % 3 === 0 ? 'compaction' : 'random';
      const outcome = await runChild(dir, round, mode, ledger);
      expect(outcome.logged, `round ${round}: the store logged`).to.deep.equal([]);
      expect(outcome.problems, `after round ${round - 1}`).to.deep.equal([]);
      if (outcome.killedWhileCompacting) duringCompaction++;
    }
    const last = await reopen(dir);
    expect(last.logged, 'final start: the store logged').to.deep.equal([]);
    expect(ledger.check(last.found), `after round ${ROUNDS}`).to.deep.equal([]);
    expect(ledger.fates.size).to.be.greaterThan(ROUNDS * 50);
    expect(duringCompaction).to.be.at.least(ROUNDS / 3 - 2);
  });
});
