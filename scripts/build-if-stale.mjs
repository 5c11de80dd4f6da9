// Before `npm start`: compile the TypeScript only when a source file is newer than the last build
// (dist/.tsbuildinfo), so that starting again after a stop serves in a few seconds.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const buildInfo = path.join(root, 'dist', '.tsbuildinfo');

function newest(entry) {
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(entry).reduce((max, name) => Math.max(max, newest(path.join(entry, name))), 0);
}

let built = 0;
try {
  built = statSync(buildInfo).mtimeMs;
} catch {
  // never built
}
const sources = Math.max(
  newest(path.join(root, 'src')),
  ...['tsconfig.json', 'tsconfig.build.json', 'package-lock.json'].map((file) =>
    newest(path.join(root, file)),
  ),
);
if (built > sources) {
  console.log('build: dist/ is up to date');
} else {
  console.log('build: compiling TypeScript (first start or changed sources)…');
  const tsc = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
  process.exit(tsc.status ?? 1);
}
