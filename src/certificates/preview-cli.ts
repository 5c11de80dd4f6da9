/**
 * `npm run certificate:preview -- --name "𠮷野 髙橋" --out sample.pdf [--program basic-training]
 * [--organisation "〇〇市 福祉課"]`: writes a sample certificate (marked 見本) with the wording of
 * the program file, for the staff who edit it. Needs no database: it reads only the training
 * content (COURSES_DIR) and the public base URL (BASE_URL) from the environment.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parseEnv } from '../config.js';
import { loadCatalog } from '../courses/loader.js';
import { samplePdf } from './certificate-file.js';

const usage =
  'usage: npm run certificate:preview -- --name "𠮷野 髙橋" --out sample.pdf [--program ID] [--organisation 名称]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      name: { type: 'string' },
      out: { type: 'string' },
      program: { type: 'string' },
      organisation: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.name || !values.out) {
    console.error(usage);
    process.exitCode = values.help ? 0 : 2;
    return;
  }
  const env = parseEnv(process.env);
  const catalog = await loadCatalog(env.COURSES_DIR);
  const program = values.program ? catalog.program(values.program) : catalog.programs[0];
  if (!program) {
    console.error(
      `no program "${values.program}"; the programs are: ${catalog.programs.map((p) => p.id).join(', ')}`,
    );
    process.exitCode = 2;
    return;
  }
  const baseUrl = (env.BASE_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, '');
  const pdf = await samplePdf(program, values.name, baseUrl, values.organisation);
  writeFileSync(values.out, pdf);
  console.log(`${values.out}: ${Math.round(pdf.length / 1024)} KB (${program.title})`);
}

await main();
