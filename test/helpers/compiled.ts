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
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';

const projectRoot = path.resolve(import.meta.dirname, '../..');
const cacheDir = path.join(projectRoot, 'node_modules', '.cache', 'tsunagu-test-build');
/** What the compiled copy holds: the app and the programs tests start from test fixtures. */
const SOURCE_DIRS = ['src', 'test/store/fixtures', 'test/operations/fixtures'];
/** Found through the project root (src/lib/paths.ts) by the compiled app, as by the real one. */
const LINKED = ['views', 'public', 'courses', 'node_modules'];

function sourceFiles(): string[] {
  return SOURCE_DIRS.flatMap((dir) =>
    readdirSync(path.join(projectRoot, dir), { recursive: true, encoding: 'utf8' })
      .map((file) => path.join(dir, file))
      .filter((file) => statSync(path.join(projectRoot, file)).isFile()),
  ).sort();
}

function build(): string {
  const files = sourceFiles();
  const hash = createHash('sha256');
  // The sources, and what else decides the output (the packages, tsconfig, this builder).
  for (const file of [...files, 'package-lock.json', 'tsconfig.json', 'test/helpers/compiled.ts']) {
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(path.join(projectRoot, file)))
      .update('\0');
  }
  const out = path.join(cacheDir, hash.digest('hex').slice(0, 16));
  if (existsSync(out)) return out;
  // Built beside it and renamed into place: test processes started together build at once.
  const building = path.join(cacheDir, `building-${randomUUID()}`);
  mkdirSync(building, { recursive: true });
  const typescript = files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
  buildSync({
    entryPoints: typescript.map((file) => path.join(projectRoot, file)),
    outbase: projectRoot,
    outdir: building,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'error',
  });
  // Data files shipped in src/ (word lists, reference data), read through the project root.
  for (const file of files.filter((file) => !file.endsWith('.ts'))) {
    cpSync(path.join(projectRoot, file), path.join(building, file));
  }
  for (const name of LINKED) symlinkSync(path.join(projectRoot, name), path.join(building, name));
  writeFileSync(path.join(building, 'package.json'), JSON.stringify({ type: 'module' }));
  try {
    renameSync(building, out);
  } catch {
    rmSync(building, { recursive: true, force: true }); // another process was first
    if (!existsSync(out)) throw new Error(`could not build the compiled copy in ${out}`);
  }
  // Copies of older sources (and builds abandoned midway) go after a day.
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const name of readdirSync(cacheDir)) {
    const dir = path.join(cacheDir, name);
    if (dir !== out && statSync(dir).mtimeMs < dayAgo)
      rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

let built: string | undefined;

/**
 * The JavaScript file to run with plain `node` for a TypeScript file of the project
 * (`compiled('src/server.ts')`, or a test fixture): from a copy of src/ and of the test fixtures
 * compiled by esbuild (once per change of the sources, in node_modules/.cache/tsunagu-test-build),
 * laid out as the project with views/, public/, courses/ and node_modules/ linked, so that the
 * compiled app finds its files from its own root (src/lib/paths.ts) as `npm start` does from dist/.
 *
 * Child processes of the tests start from it rather than through tsx: tsx's loader hooks made
 * every start of the app cost about 2.4 s more CPU (7.4 s against 5 s), paid at every start.
 */
export function compiled(file: string): string {
  const relative = path.relative(projectRoot, path.resolve(projectRoot, file));
  built ??= build();
  return path.join(built, relative.replace(/\.ts$/, '.js'));
}
