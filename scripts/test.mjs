#!/usr/bin/env node
/**
 * Runs the test suite: every test/**\/*.test.ts, compiled to JavaScript by esbuild into a copy of
 * the project (scripts/compiled-copy.mjs, rebuilt in about a second when a source changed) and
 * handed to mocha with .mocharc.json's options — without tsx, whose loader hooks cost about 8 %
 * more CPU in all. Stack traces still name the TypeScript files (scripts/source-mapped-stacks.mjs).
 *
 *   node scripts/test.mjs                 what `npm test` runs: files in parallel, in 3 processes
 *   node scripts/test.mjs --jobs 2        2 processes
 *   node scripts/test.mjs --serial        one process, files in name order
 *   node scripts/test.mjs --shuffle       one process, files in a random order (the seed is printed)
 *   node scripts/test.mjs --seed 42       one process, files in the order seed 42 shuffles them to
 *   node scripts/test.mjs --seed 42 --jobs 3   that order, spread over 3 processes
 *   node scripts/test.mjs --timings       in parallel, then wall and CPU seconds per file, longest first
 *                                         (kept in test-results/file-timings.jsonl, with when each ended)
 *   node scripts/test.mjs test/auth/login.test.ts test/auth/throttle.test.ts   only these files
 *
 * Anything else is passed on to mocha (e.g. `--grep`, `--bail`).
 *
 * In parallel, each process runs whole files one after another, so the files known to take
 * longest start first and the short ones fill the gaps (a long file started last would be the
 * run's tail). A shuffled run stays in one process unless --jobs is given: that is where files
 * can disturb each other (module state, the shared embedded store, mongoose's default connection).
 */
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CompileError, compiledCopy } from './compiled-copy.mjs';

const root = path.resolve(import.meta.dirname, '..');

/**
 * Started first in a parallel run: the longest files, longest first (wall times from
 * `npm test -- --timings` on the shared 2-core machine, December 2026, at a load average of
 * 7-11: the certificate journey about 3 minutes (both widths are one file, about 50 s of CPU), the
 * access matrix, the other journeys, the server starts and the SIGKILL test 45-75 s, the
 * password and throttling tests about 40 s, the move to MongoDB, the CSRF walk and the rest
 * 10-25 s; a folder prefix would rank each of its files). The rest follow in name order; with
 * these first, the three processes end within seconds of each other.
 */
const LONGEST_FIRST = [
  'test/browser/certificate-journey.test.ts',
  'test/auth/access-matrix.test.ts',
  'test/browser/coordinator-journey.test.ts',
  'test/server.test.ts',
  'test/store/crash.test.ts',
  'test/browser/trainee-journey.test.ts',
  'test/browser/admin-viewer-applicant-journeys.test.ts',
  'test/auth/password.test.ts',
  'test/auth/throttle.test.ts',
  'test/operations/move-to-mongodb.test.ts',
  'test/security/csrf.test.ts',
  'test/certificates/flow.test.ts',
  'test/security/xss.test.ts',
  'test/operations/migrations.test.ts',
  'test/store/thread.test.ts',
  'test/courses/loader.test.ts',
];

function testFiles() {
  return readdirSync(path.join(root, 'test'), { recursive: true })
    .map((file) => path.posix.join('test', file.split(path.sep).join('/')))
    .filter((file) => file.endsWith('.test.ts'))
    .sort();
}

function rank(file) {
  const at = LONGEST_FIRST.findIndex((prefix) => file.startsWith(prefix));
  return at === -1 ? LONGEST_FIRST.length : at;
}

/** mulberry32: a small seeded generator, so a shuffled order can be repeated. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffled(files, seed) {
  const random = seeded(seed);
  const out = [...files];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const args = process.argv.slice(2);
let jobs = 3;
let jobsGiven = false;
let serial = false;
let seed;
let timings = false;
const only = [];
const passOn = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--serial') serial = true;
  else if (arg === '--jobs' || arg === '-j') {
    jobs = Number(args[++i]);
    jobsGiven = true;
  } else if (arg === '--shuffle') seed ??= Math.floor(Math.random() * 1e6);
  else if (arg === '--seed') seed = Number(args[++i]);
  else if (arg === '--timings') timings = true;
  else if (arg.endsWith('.ts') && !arg.startsWith('-')) {
    // Relative to where the command was typed (npm runs scripts from the project's root).
    const absolute = path.resolve(process.env.INIT_CWD ?? process.cwd(), arg);
    const file = path.relative(root, absolute).split(path.sep).join('/');
    if (!file.startsWith('test/') || !file.endsWith('.test.ts') || !existsSync(absolute)) {
      console.error(`${arg}: not a test file (test/**/*.test.ts)`);
      process.exit(2);
    }
    only.push(file);
  } else passOn.push(arg);
}
if (!Number.isInteger(jobs) || jobs < 1) {
  console.error('--jobs takes a whole number of processes (1 or more)');
  process.exit(2);
}
if (seed !== undefined && (!Number.isInteger(seed) || seed < 0)) {
  console.error('--seed takes a whole number (0 or more)');
  process.exit(2);
}

let files = only.length > 0 ? only : testFiles();
let mode;
if (seed !== undefined) {
  files = shuffled(files, seed);
  mode = jobsGiven && jobs > 1 ? ['--parallel', '--jobs', String(jobs)] : [];
  const where = mode.length ? `${jobs} processes` : 'one process';
  console.log(`test files shuffled with --seed ${seed} (${where}), in this order:`);
  for (const file of files) console.log(`  ${file}`);
} else if (serial || jobs === 1) {
  mode = [];
} else {
  files = [...files].sort((a, b) => rank(a) - rank(b));
  mode = ['--parallel', '--jobs', String(jobs)];
}

let timingsDir;
if (timings) {
  timingsDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-timings-'));
  passOn.push('--require', path.join(root, 'scripts/file-timings.mjs'));
}
const started = Date.now();
// The tests run compiled (scripts/compiled-copy.mjs), with the copy's mocha options.
let copy;
try {
  copy = compiledCopy(root);
} catch (error) {
  if (!(error instanceof CompileError)) throw error;
  console.error(`\n${error.message}`);
  process.exit(1);
}
const config = ['--config', path.join(copy, '.mocharc.json')];
const compiledFiles = files.map((file) => path.join(copy, file.replace(/\.ts$/, '.js')));
const mocha = path.join(root, 'node_modules/mocha/bin/mocha.js');
const child = spawn(process.execPath, [mocha, ...config, ...mode, ...passOn, ...compiledFiles], {
  cwd: root,
  stdio: 'inherit',
  env: timingsDir
    ? { ...process.env, TEST_TIMINGS_FILE: path.join(timingsDir, 'files.jsonl') }
    : process.env,
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));

/** The per-file table of a --timings run, longest wall time first. */
function printTimings() {
  let lines = [];
  try {
    lines = readFileSync(path.join(timingsDir, 'files.jsonl'), 'utf8').trim().split('\n');
  } catch {
    console.log('no timings recorded (they need a parallel run)');
  }
  rmSync(timingsDir, { recursive: true, force: true });
  const rows = lines.filter(Boolean).map((line) => JSON.parse(line));
  // Kept for a timeline (each line: the file, its process, wall and CPU seconds, when it ended).
  mkdirSync(path.join(root, 'test-results'), { recursive: true });
  writeFileSync(path.join(root, 'test-results/file-timings.jsonl'), lines.join('\n') + '\n');
  rows.sort((a, b) => b.wall - a.wall);
  const fmt = (n) => n.toFixed(1).padStart(7);
  for (const r of rows) {
    r.hash = r.threads?.['tsunagu-hash'] ?? 0;
    r.store = r.threads?.['tsunagu-store'] ?? 0;
  }
  console.log(
    `\n   wall     cpu  child   hash  store   file   (seconds; cpu: the worker, child: its ` +
      `children; hash, store: the worker's hashing and store threads, part of cpu)`,
  );
  for (const r of rows) {
    console.log(
      `${fmt(r.wall)} ${fmt(r.cpu)} ${fmt(r.childCpu)} ${fmt(r.hash)} ${fmt(r.store)}   ${r.file}`,
    );
  }
  const sum = (key) => rows.reduce((total, r) => total + r[key], 0);
  console.log(
    `${fmt(sum('wall'))} ${fmt(sum('cpu'))} ${fmt(sum('childCpu'))} ${fmt(sum('hash'))} ` +
      `${fmt(sum('store'))}   all ${rows.length} files`,
  );
  console.log(`wall time of the run: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

child.on('exit', (code, signal) => {
  if (timingsDir) printTimings();
  if (seed !== undefined) console.log(`(test files shuffled with --seed ${seed})`);
  process.exit(code ?? (signal ? 1 : 0));
});
