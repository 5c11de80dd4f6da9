/**
 * The test runner itself: `npm test` runs the suite from a compiled copy of the project
 * (scripts/compiled-copy.mjs), and a failure must still point at the TypeScript a person edits.
 * These pass the same through tsx (`npx mocha test/test-runner.test.ts`).
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
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

  it('resolves a package to its real file even after a socket was stat-ed', async () => {
    // Node's realpathSync, with the cache its resolvers keep, takes a cached folder for a pipe or
    // socket when the thread's last synchronous stat was of one (as the store's tests do), and
    // stops resolving links midway. A package reached through a link in the copy then resolved
    // to a second path: supertest loaded twice, and a worker's tests got empty exports.
    const dir = mkdtempSync(path.join(tmpdir(), 'tsunagu-runner-'));
    const socket = path.join(dir, 'probe.sock');
    const server = net.createServer().listen(socket);
    await once(server, 'listening');
    try {
      expect(statSync(socket).isSocket()).to.equal(true);
      // A package the tests never import themselves, so that its path is not yet in the cache.
      const resolved = createRequire(import.meta.url).resolve('ms');
      expect(resolved).to.equal(realpathSync(resolved));
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
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
