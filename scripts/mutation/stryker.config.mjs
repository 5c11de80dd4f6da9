// Stryker's configuration for one module of scripts/mutation/modules.mjs, chosen by the
// MUTATION_MODULE variable. Run through `npm run test:mutation` (scripts/mutation.mjs), which also
// preloads mocha12-compat.mjs; see README.md, "Mutation testing".
import { fileURLToPath, URL } from 'node:url';
import { MODULES } from './modules.mjs';

const name = process.env.MUTATION_MODULE;
const module = MODULES.find((m) => m.name === name);
if (!module)
  throw new Error(`MUTATION_MODULE must name one of: ${MODULES.map((m) => m.name).join(', ')}`);

const compat = fileURLToPath(new URL('./mocha12-compat.mjs', import.meta.url));

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  mutate: module.mutate,
  testRunner: 'mocha',
  // The tests are TypeScript run through tsx, registered in each test-runner process.
  testRunnerNodeArgs: ['--import', compat, '--import', 'tsx'],
  // Our own mocha options: the focused test files only, not .mocharc.json (whose spec and
  // node-option are for `npm test`).
  mochaOptions: { 'no-config': true, spec: module.spec },
  // MUTATION_TYPECHECK=0 (`npm run test:mutation -- --no-typecheck`) skips the checker: much
  // faster on a busy machine, but changes that would not compile then run (and count) too.
  checkers: process.env.MUTATION_TYPECHECK === '0' ? [] : ['typescript'],
  // The checker process loads every plugin too, the mocha runner included.
  checkerNodeArgs: ['--import', compat],
  tsconfigFile: 'tsconfig.build.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  // Module-level constants run once per process (ESM cannot be reloaded): each such mutant would
  // need a fresh test-runner process. They are the limits and word lists, pinned by plain tests.
  ignoreStatic: true,
  // Two shared cores.
  concurrency: 2,
  timeoutMS: 10000,
  timeoutFactor: 2,
  incremental: true,
  incrementalFile: `reports/mutation/${module.name}.incremental.json`,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: `reports/mutation/${module.name}.json` },
  htmlReporter: { fileName: `reports/mutation/${module.name}.html` },
  clearTextReporter: { allowColor: false, logTests: false, maxTestsToLog: 0 },
  thresholds: { high: 90, low: 80, break: 80 },
  ignorePatterns: [
    'dist',
    'data',
    'coverage',
    'test-results',
    'bench',
    'reports',
    '.env',
    '.stryker-tmp',
  ],
  // One folder per module, so two modules can run at once.
  tempDirName: `.stryker-tmp/${module.name}`,
  cleanTempDir: true,
};
