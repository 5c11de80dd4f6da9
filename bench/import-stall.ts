/**
 * `npx tsx bench/import-stall.ts` — how long one CSV upload blocks the event loop. Uploads files
 * of about 1 MB (the upload limit) as an administrator to the app on a fresh database of the
 * in-memory store (in this process), and prints the longest event-loop delay seen during each
 * upload (perf_hooks.monitorEventLoopDelay, 1 ms resolution), with its status and time.
 *
 * Files: `valid` (1,000 well-formed rows of long but valid cells, about 0.6 MB), `roles` (rows whose role
 * cell holds many unknown roles, the worst case for error messages), `cell` (one huge cell).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { seedOrganisations } from '../src/organisations/index.js';
import { createTestApp } from '../test/helpers/app.js';
import { signIn } from '../test/helpers/auth.js';
import { buildUser } from '../test/helpers/factories.js';

const HEADER = '氏名,ふりがな,メールアドレス,市町村,所属機関,職種,役割';
const LIMIT = 1024 * 1024 - 200;

function fill(row: (i: number) => string, maxRows = 1000): Buffer {
  const lines = [HEADER];
  let size = Buffer.byteLength(HEADER);
  for (let i = 0; i < maxRows; i++) {
    const line = row(i);
    const bytes = Buffer.byteLength(line) + 2;
    if (size + bytes > LIMIT) break;
    lines.push(line);
    size += bytes;
  }
  return Buffer.from(lines.join('\r\n'));
}

const files: Record<string, Buffer> = {
  valid: fill(
    (i) =>
      `${'長野'.repeat(24)} ${i},${'ながの'.repeat(16)},person${i}@example.jp,長野市,${'福祉'.repeat(49)},保健師,受講者`,
  ),
  roles: fill((i) => `長野 ${i},ながの,p${i}@example.jp,長野市,,保健師,"${'x、'.repeat(400)}"`),
  cell: Buffer.from(
    `${HEADER}\r\n長野,ながの,a@example.jp,長野市,,保健師,"${'x、'.repeat(260_000)}"\r\n`,
  ),
};

const t = await createTestApp();
await seedOrganisations();
const { user, password } = await buildUser({ roles: ['admin'] });
const admin = await signIn(t.app, user, password);
const histogram = monitorEventLoopDelay({ resolution: 1 });
histogram.enable();
for (const [name, content] of Object.entries(files)) {
  for (let round = 0; round < 3; round++) {
    histogram.reset();
    const started = performance.now();
    const res = await admin.agent
      .post('/admin/users/import')
      .field('_csrf', admin.csrfToken)
      .attach('file', content, 'roster.csv');
    const ms = performance.now() - started;
    console.log(
      `${name.padEnd(5)} ${(content.length / 1024).toFixed(0)} KB: status ${res.status}, ` +
        `${ms.toFixed(0)} ms, longest event-loop stall ${(histogram.max / 1e6).toFixed(0)} ms`,
    );
  }
}
histogram.disable();
await t.close();
process.exit(0);
