/**
 * The test runner itself: `npm test` runs the suite from a compiled copy of the project
 * (scripts/compiled-copy.mjs), and a failure must still point at the TypeScript a person edits.
 * These pass the same through tsx (`npx mocha test/test-runner.test.ts`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { CACHE_DIR, sourceOf } from '../scripts/compiled-copy.mjs';
import { loadConfig } from '../src/config.js';

/** The 1-based line of this test file's source that holds `marker`. */
function lineOf(marker: string): number {
  const source = readFileSync(path.resolve('test/test-runner.test.ts'), 'utf8').split('\n');
  return source.findIndex((line) => line.includes(marker) && !line.includes('lineOf(')) + 1;
}

describe('the test runner (npm test)', () => {
  it('names the TypeScript file and line in a stack trace', () => {
    const error = new Error('where am I'); // marker: stack-line
    const expected = `${path.resolve('test/test-runner.test.ts')}:${lineOf('marker: stack-line')}:`;
    expect(error.stack).to.contain(expected);
    expect(error.stack).not.to.contain(CACHE_DIR);
  });

  it('names the source file of the app in the stack of an error it throws', () => {
    const run = () => loadConfig({ NODE_ENV: 'production', PORT: 'not a number' });
    expect(run).to.throw(/PORT/);
    try {
      run();
    } catch (error) {
      expect((error as Error).stack).to.contain(`${path.resolve('src/config.ts')}:`);
      expect((error as Error).stack).to.match(/^ConfigError: /);
    }
  });

  it('tells the project file a file of a compiled copy came from', () => {
    const copy = path.resolve(CACHE_DIR, '0123456789abcdef');
    expect(sourceOf(path.join(copy, 'test/auth/login.test.js'))).to.equal(
      'test/auth/login.test.ts',
    );
    expect(sourceOf(path.join(copy, 'src/app.js'))).to.equal('src/app.ts');
    expect(sourceOf(path.resolve('test/auth/login.test.ts'))).to.equal(null);
  });
});
