import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { compiled } from '../helpers/compiled.js';
import { pdfText } from './helpers.js';

const run = promisify(execFile);

describe('npm run certificate:preview', function () {
  this.timeout(60_000);

  it('writes a sample PDF for a name without a database', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'tsunagu-preview-'));
    try {
      const out = path.join(dir, 'sample.pdf');
      // No MONGODB_URI and an unreachable one: the command must not need a database.
      const env = {
        ...process.env,
        MONGODB_URI: 'mongodb://127.0.0.1:1/none',
        BASE_URL: 'https://example.jp',
      };
      const { stdout } = await run(
        process.execPath,
        [compiled('src/certificates/preview-cli.ts'), '--name', '𠮷野 髙橋', '--out', out],
        { env },
      );
      expect(stdout).to.contain('sample.pdf');
      const text = (await pdfText(await readFile(out))).replace(/\s+/g, '');
      expect(text).to.contain('𠮷野髙橋');
      expect(text).to.contain('見本');
      expect(text).to.contain('https://example.jp/verify/');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('explains its usage when the name or the file is missing', async () => {
    const error = await run(process.execPath, [compiled('src/certificates/preview-cli.ts')]).catch(
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(error).to.include({ code: 2 });
    expect((error as { stderr: string }).stderr).to.contain('--name');
  });
});
