import path from 'node:path';
import { compiledCopy, isCompiledCopy } from '../../scripts/compiled-copy.mjs';

/** The project, or the compiled copy these tests run from (`npm test`). */
const projectRoot = path.resolve(import.meta.dirname, '../..');
let built: string | undefined;

/**
 * The JavaScript file to run with plain `node` for a TypeScript file of the project
 * (`compiled('src/server.ts')`, or a test fixture), in the compiled copy of the project
 * (scripts/compiled-copy.mjs): the copy these tests run from under `npm test`, or one built for a
 * run through tsx (`npx mocha test/…`).
 *
 * Child processes of the tests start from it rather than through tsx, whose loader hooks cost
 * every start of the app about 1.2 s more CPU.
 */
export function compiled(file: string): string {
  const relative = path.relative(projectRoot, path.resolve(projectRoot, file));
  built ??= isCompiledCopy(projectRoot) ? projectRoot : compiledCopy(projectRoot);
  return path.join(built, relative.replace(/\.ts$/, '.js'));
}
