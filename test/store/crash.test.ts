import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { startStore } from '../../src/store/index.js';
import { capturingLogger, tempDir } from './fixtures/crash-helpers.js';

const ROUNDS = 24;
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

/** Runs the child until it is killed: `mode` picks the moment. Returns whether it was compacting. */
function runChild(dir: string, round: number, mode: 'random' | 'compaction', ledger: Ledger) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CHILD, dir, String(round), String(COMPACT_AFTER_BYTES)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let pending = '';
  let ready = false;
  let killedWhileCompacting = false;
  const kill = () => child.kill('SIGKILL');
  const deadline = setTimeout(kill, 8000);
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      ledger.read(line);
      if (line === 'ready' && !ready) {
        ready = true;
        const delay = mode === 'random' ? 50 + Math.random() * 500 : 2500;
        setTimeout(kill, delay);
      }
      if (line === 'compacting' && mode === 'compaction' && ready && !killedWhileCompacting) {
        killedWhileCompacting = true;
        setTimeout(kill, Math.random() * 4);
      }
    }
  });
  return new Promise<{ ready: boolean; compacting: boolean }>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(deadline);
      if (pending) ledger.read(pending);
      if (signal !== 'SIGKILL') {
        reject(new Error(`crash child ended by itself (${code}): ${stderr}`));
      } else {
        resolve({ ready, compacting: killedWhileCompacting });
      }
    });
  });
}

/** Opens the store the way the app does and reads every document back. */
async function reopen(dir: string) {
  const { logger, lines } = capturingLogger();
  const store = await startStore({ dataDir: dir, port: 0, logger });
  const client = new MongoClient(store.uri, { serverSelectionTimeoutMS: 5000 });
  try {
    const docs = await client.db('crash').collection<{ _id: string }>('items').find().toArray();
    return {
      docs: new Map(docs.map((d) => [d._id, d as { updated?: boolean }])),
      // Taking over the dead child's lock is expected; anything else worth a warning is not.
      problems: lines
        .filter((l) => l.level >= 40 && !l.msg.includes('stale data directory lock'))
        .map((l) => l.msg),
    };
  } finally {
    await client.close();
    await store.close();
  }
}

describe('store crash safety', function () {
  this.timeout(90_000);

  it(`keeps every acknowledged write through ${ROUNDS} SIGKILLs, some during compaction`, async () => {
    const dir = tempDir();
    const ledger = new Ledger();
    let duringCompaction = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const mode = round % 3 === 0 ? 'compaction' : 'random';
      const outcome = await runChild(dir, round, mode, ledger);
      expect(outcome.ready, `round ${round}: the store did not start`).to.equal(true);
      if (outcome.compacting) duringCompaction++;
      const { docs, problems } = await reopen(dir);
      expect(problems, `round ${round}: the store logged`).to.deep.equal([]);
      expect(ledger.check(docs), `round ${round}`).to.deep.equal([]);
    }
    expect(ledger.fates.size).to.be.greaterThan(ROUNDS * 50);
    expect(duringCompaction).to.be.at.least(ROUNDS / 3 - 2);
  });
});
