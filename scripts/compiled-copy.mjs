/**
 * The compiled copy of the project that tests run from: src/ and test/ compiled by esbuild (the
 * data files beside them copied), with views/, public/ and courses/ linked, laid out as the
 * project so that the compiled app finds its files from its own root (src/lib/paths.ts) as
 * `npm start` does from dist/. Built once per change of the sources into
 * node_modules/.cache/tsunagu-test-build/<hash of the sources>, where packages are found in the
 * project's node_modules above it.
 *
 * `npm test` runs mocha's workers on the compiled test files, and tests start child processes
 * (the server, the CLIs, the crash test's children) from it: tsx's loader hooks cost every
 * process about 1.2 s more CPU to load the app (2.7 s against 1.5 s) and every test file more to
 * load (the whole suite: 300 s of CPU through tsx, 276 s from the copy, December 2026).
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * esbuild, loaded only when a copy is built (about 50 ms): mocha's workers import this module
 * for CACHE_DIR and sourceOf (stack traces, --timings) and never build.
 */
const esbuild = () => createRequire(import.meta.url)('esbuild');

/** Where copies are built, under the project. */
export const CACHE_DIR = path.join('node_modules', '.cache', 'tsunagu-test-build');
const SOURCE_DIRS = ['src', 'test'];
/**
 * Read as files through the project root by the compiled app, as by the real one: linked.
 *
 * Nothing that is loaded as a module is linked. node_modules is found by walking up from the copy
 * (it sits inside it), and the one script the tests import is copied. A package reached through a
 * symbolic link can be loaded twice: Node's realpathSync, with the cache the ESM resolver keeps,
 * decides whether a cached folder is a pipe or a socket from the last synchronous stat of the
 * thread, so after a test has stat-ed the store's socket it stops resolving midway and returns the
 * linked path. supertest then had one module under each path, and the tests of that mocha worker
 * imported the empty exports of the one never loaded (`request is not a function`, in CI, December
 * 2026; test/test-runner.test.ts).
 */
const LINKED = ['views', 'public', 'courses'];
/** Imported by tests (test/helpers/compiled.ts): copied, and part of the copy's hash. */
const COPIED_SCRIPTS = ['scripts/compiled-copy.mjs'];
/** The file at the root of every copy: how code tells it runs from one (`isCompiledCopy`). */
const MARKER = '.compiled-copy';

function sourceFiles(root) {
  return SOURCE_DIRS.flatMap((dir) =>
    readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
      .map((file) => path.join(dir, file))
      .filter((file) => statSync(path.join(root, file)).isFile()),
  ).sort();
}

/** For a file of a compiled copy, the project's TypeScript file it came from (relative); else null. */
export function sourceOf(file) {
  const at = file.indexOf(CACHE_DIR + path.sep);
  if (at === -1) return null;
  const inCopy = file
    .slice(at + CACHE_DIR.length + 1)
    .split(path.sep)
    .slice(1)
    .join('/');
  return inCopy.replace(/\.js$/, '.ts');
}

/** The sources did not compile: esbuild has printed why (file, line and message). */
export class CompileError extends Error {
  constructor() {
    super('the TypeScript sources do not compile (see above)');
    this.name = 'CompileError';
  }
}

/** Copies kept whatever their age: the latest used, for switching between branches. */
const KEEP_LATEST = 3;
/** Other copies go once unused for this long (a copy takes about 8 MB). */
const UNUSED_MS = 3600_000;

/** Removes copies of older sources (and builds abandoned midway) that have not been used lately. */
function removeOldCopies(cacheDir, current) {
  const copies = readdirSync(cacheDir)
    .map((name) => path.join(cacheDir, name))
    .filter((dir) => dir !== current)
    .map((dir) => ({ dir, used: statSync(dir).mtimeMs }))
    .sort((a, b) => b.used - a.used);
  const before = Date.now() - UNUSED_MS;
  for (const { dir, used } of copies.slice(KEEP_LATEST - 1)) {
    if (used < before) rmSync(dir, { recursive: true, force: true });
  }
}

/** True when `root` is a compiled copy rather than the project itself. */
export function isCompiledCopy(root) {
  return existsSync(path.join(root, MARKER));
}

/** The compiled copy of the project at `root` (built when its sources changed); returns its folder. */
export function compiledCopy(root) {
  const cacheDir = path.join(root, CACHE_DIR);
  const files = sourceFiles(root);
  const hash = createHash('sha256');
  // The sources, and what else decides the output (the packages, tsconfig, this builder, which is
  // also the script copied).
  const inputs = [
    ...files,
    ...['package-lock.json', 'tsconfig.json', '.mocharc.json'],
    ...COPIED_SCRIPTS,
  ];
  for (const file of inputs) {
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(path.join(root, file)))
      .update('\0');
  }
  const out = path.join(cacheDir, hash.digest('hex').slice(0, 16));
  if (existsSync(out)) {
    const now = new Date();
    utimesSync(out, now, now); // in use: kept by the clean-up below
    return out;
  }
  // Built beside it and renamed into place: test processes started together build at once.
  const building = path.join(cacheDir, `building-${randomUUID()}`);
  mkdirSync(building, { recursive: true });
  const typescript = files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
  try {
    esbuild().buildSync({
      entryPoints: typescript.map((file) => path.join(root, file)),
      outbase: root,
      outdir: building,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      // Read only when a stack is printed (scripts/source-mapped-stacks.mjs), not at every load.
      sourcemap: 'inline',
      logLevel: 'error', // prints what does not compile, with the file and line
    });
  } catch {
    rmSync(building, { recursive: true, force: true });
    throw new CompileError();
  }
  // Data files beside the sources (word lists, reference data, test fixtures).
  for (const file of files.filter((file) => !file.endsWith('.ts'))) {
    cpSync(path.join(root, file), path.join(building, file));
  }
  for (const file of COPIED_SCRIPTS) cpSync(path.join(root, file), path.join(building, file));
  for (const name of LINKED) symlinkSync(path.join(root, name), path.join(building, name));
  writeFileSync(path.join(building, 'package.json'), JSON.stringify({ type: 'module' }));
  writeFileSync(path.join(building, MARKER), `compiled from ${root}\n`);
  // mocha's options for the copy: the project's, without tsx (nothing left to compile) and with
  // stack traces naming the TypeScript sources.
  const { 'node-option': nodeOptions = [], ...mocha } = JSON.parse(
    readFileSync(path.join(root, '.mocharc.json'), 'utf8'),
  );
  const kept = nodeOptions.filter((option) => option !== 'import=tsx');
  writeFileSync(
    path.join(building, '.mocharc.json'),
    JSON.stringify({
      ...mocha,
      ...(kept.length > 0 ? { 'node-option': kept } : {}),
      require: [
        ...[mocha.require ?? []].flat(),
        path.join(root, 'scripts/source-mapped-stacks.mjs'),
      ],
    }),
  );
  try {
    renameSync(building, out);
  } catch {
    rmSync(building, { recursive: true, force: true }); // another process was first
    if (!existsSync(out)) throw new Error(`could not build the compiled copy in ${out}`);
  }
  removeOldCopies(cacheDir, out);
  return out;
}
