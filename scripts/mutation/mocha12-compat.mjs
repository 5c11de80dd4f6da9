// Preloaded (node --import) into Stryker's processes. @stryker-mutator/mocha-runner 9.x requires
// mocha's CLI helpers by extensionless path (lib/cli/run-helpers, lib/cli/options); mocha 12 ships
// them as .cjs, which CommonJS resolution does not try. Registering the extension makes those
// paths resolve; .cjs files are still compiled as CommonJS. Remove once the runner supports
// mocha 12 (stryker-js PR #6205) on Node 20 (Stryker 10 needs Node 22).
import Module from 'node:module';

if (!Object.hasOwn(Module._extensions, '.cjs')) {
  Module._extensions['.cjs'] = Module._extensions['.js'];
}
