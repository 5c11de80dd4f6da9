import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { tempDir } from './fixtures/crash-helpers.js';
import { compiled } from '../helpers/compiled.js';

const CHILD = path.join(import.meta.dirname, 'fixtures/say-child.ts');

/**
 * The crash test learns what the store acknowledged from its child's stdout, and kills the child
 * at any moment: a line the child has said must be in the pipe already, or the kill drops it. When
 * the parent fell behind on a loaded machine, process.stdout.write kept the lines past the pipe's
 * few kilobytes in the child, and the lost `del?` lines of done deletes looked like lost inserts.
 */
describe('crash test: what the child says reaches the parent through a SIGKILL', function () {
  this.timeout(60_000);

  it('loses no said line while the parent does not read for a second', async () => {
    const file = path.join(tempDir(), 'said');
    const child = spawn(process.execPath, [compiled(CHILD), file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    // Reads until the child is up, then falls behind as a starved parent does.
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.stdout.on('data', () => resolve());
    });
    child.stdout.pause();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    child.kill('SIGKILL');
    child.stdout.resume();
    await new Promise((resolve) => child.once('close', resolve));

    const said = Number(readFileSync(file, 'latin1').trim());
    const lines = out.split('\n').filter((line) => line !== '');
    // More than the pipe holds, had nothing held the child back (tens of thousands in a second).
    expect(said, 'lines said').to.be.greaterThan(100);
    expect(lines.length, 'lines received').to.be.at.least(said);
    expect(lines.slice(0, said)).to.deep.equal(
      Array.from({ length: said }, (_, i) => `line ${i + 1}`),
    );
  });
});
