#!/usr/bin/env node
/**
 * `npm run test:mutation [-- <module> …] [-- --force]`: runs StrykerJS for each module of
 * scripts/mutation/modules.mjs in turn (all of them without a name) and prints one line per
 * module: `policy 87.5 % (112 killed / 128)`. Exits non-zero when a module scores below 80 %.
 * `--no-typecheck` skips the TypeScript checker (faster). Other arguments starting with `--` go to Stryker (e.g. `--force` to ignore the incremental
 * results, `--concurrency=1`: with `=`, as a bare word is taken for a module name). Reports land in reports/mutation/ (git-ignored).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, URL } from 'node:url';
import { MODULES } from './mutation/modules.mjs';

const BREAK = 80;
const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const names = args.filter((arg) => !arg.startsWith('-'));
const typecheck = !args.includes('--no-typecheck');
const strykerArgs = args.filter((arg) => arg.startsWith('-') && arg !== '--no-typecheck');
const unknown = names.filter((name) => !MODULES.some((m) => m.name === name));
if (unknown.length > 0) {
  console.error(
    `Unknown module: ${unknown.join(', ')}. Modules: ${MODULES.map((m) => m.name).join(', ')}`,
  );
  process.exit(2);
}
const selected = names.length > 0 ? MODULES.filter((m) => names.includes(m.name)) : MODULES;

const DETECTED = new Set(['Killed', 'Timeout']);
const UNDETECTED = new Set(['Survived', 'NoCoverage']);

/** Score as Stryker counts it: detected / (detected + undetected); invalid and ignored mutants aside. */
function score(reportFile) {
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  let detected = 0;
  let undetected = 0;
  for (const file of Object.values(report.files))
    for (const mutant of file.mutants) {
      if (DETECTED.has(mutant.status)) detected++;
      else if (UNDETECTED.has(mutant.status)) undetected++;
    }
  const total = detected + undetected;
  return { detected, total, percent: total === 0 ? 100 : (100 * detected) / total };
}

const summary = [];
let failed = false;
for (const module of selected) {
  const started = Date.now();
  console.log(`\n=== ${module.name}: ${module.mutate.join(', ')}`);
  const run = spawnSync(
    process.execPath,
    [
      '--import',
      fileURLToPath(new URL('./mutation/mocha12-compat.mjs', import.meta.url)),
      'node_modules/@stryker-mutator/core/bin/stryker.js',
      'run',
      'scripts/mutation/stryker.config.mjs',
      ...strykerArgs,
    ],
    {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        MUTATION_MODULE: module.name,
        ...(typecheck ? {} : { MUTATION_TYPECHECK: '0' }),
      },
    },
  );
  const minutes = ((Date.now() - started) / 60000).toFixed(1);
  let line;
  try {
    const { detected, total, percent } = score(`${root}reports/mutation/${module.name}.json`);
    const below = percent < BREAK;
    failed ||= below || run.status !== 0;
    line = `${module.name} ${percent.toFixed(1)} % (${detected} killed / ${total})${below ? ` below ${BREAK} %` : ''}, ${minutes} min`;
  } catch {
    failed = true;
    line = `${module.name}: no report (Stryker exited with ${run.status}), ${minutes} min`;
  }
  summary.push(line);
  console.log(`\n${line}`);
}
console.log(`\nMutation scores (break at ${BREAK} %):\n${summary.map((l) => `  ${l}`).join('\n')}`);
process.exit(failed ? 1 : 0);
