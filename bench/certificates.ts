/**
 * `npm run bench:certificates` — issue 11. Draws 200 certificates with varied names (short,
 * long, rare kanji, Latin, 100 characters) in this process, as the download route does, and
 * prints the median and 95th percentile time per PDF and the median size. The font files are
 * read once per process (checked below); 20 PDFs drawn first and not measured pay for that and
 * for the JIT's warm-up, as a server has drawn some long before the 200th download. Besides the
 * wall-clock times (which include waiting for a CPU on a shared machine) it prints CPU time.
 *
 * Last line: `certificates: median X ms, p95 Y ms, median size Z KB over 200`.
 */
import { fontLoads, renderCertificatePdf } from '../src/certificates/certificate.pdf.js';

const COUNT = 200;
const WARM_UP = 20;
const FAMILY = ['𠮷野', '髙橋', '山﨑', '齋藤', '渡邉', '長野', '佐藤', '小林', '中村', '宮坂'];
const GIVEN = ['花子', '太郎', '美咲', '翔', '由美子', '健一', '𠮷子', '﨑代', '邉', '陽菜'];

function nameFor(i: number): string {
  if (i % 50 === 7) return '髙'.repeat(100);
  if (i % 25 === 3) return 'Maria Fernanda Gonzalez de la Cruz Rodriguez Nakamura';
  if (i % 10 === 5) return `${FAMILY[i % 10]}・ミッチェル・${GIVEN[(i * 3) % 10]}・アレクサンドラ`;
  return `${FAMILY[i % 10]} ${GIVEN[(i * 7) % 10]}`;
}

const page = (i: number) => ({
  number: `NAGANO-2026-${String(i + 1).padStart(5, '0')}`,
  name: nameFor(i),
  organisationName: i % 3 === 0 ? '' : '長野市 保健福祉部 福祉政策課',
  programTitle: 'ひきこもり支援者 多職種基礎研修',
  title: '修了証書',
  body: 'あなたは{program}の全課程を修了し、ひきこもり支援に携わる者としての基礎的な知識と視点を身につけたことをここに証します。',
  issuer: '長野県ひきこもり支援センター',
  completedAt: new Date(Date.UTC(2026, 3, 1) + i * 86_400_000),
  verificationUrl: `https://tsunagu.example.jp/verify/${Buffer.from(`code-${i}-xxxxxxxxxxxxx`).toString('base64url').slice(0, 24)}`,
  revokedAt: i % 40 === 11 ? new Date() : null,
});

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

// Warm-up, not measured: the first PDF loads the fonts, the next ones let the JIT compile the
// layout and subsetting code, as in a server that has been running for a while.
for (let i = 0; i < WARM_UP; i++) await renderCertificatePdf(page(COUNT + i));
const times: number[] = [];
const cpuTimes: number[] = [];
const sizes: number[] = [];
for (let i = 0; i < COUNT; i++) {
  const start = performance.now();
  const cpu = process.cpuUsage();
  const pdf = await renderCertificatePdf(page(i));
  times.push(performance.now() - start);
  const used = process.cpuUsage(cpu);
  cpuTimes.push((used.user + used.system) / 1000);
  sizes.push(pdf.length);
}
if (fontLoads !== 1) throw new Error(`the font files were read ${fontLoads} times, not once`);
times.sort((a, b) => a - b);
cpuTimes.sort((a, b) => a - b);
sizes.sort((a, b) => a - b);
// On a shared machine the wall-clock figures include waiting for a CPU; the CPU time does not.
console.log(
  `CPU time per PDF: median ${percentile(cpuTimes, 50).toFixed(1)} ms, p95 ${percentile(cpuTimes, 95).toFixed(1)} ms`,
);
console.log(
  `largest ${(sizes[sizes.length - 1] / 1024).toFixed(1)} KB; font files read ${fontLoads} time(s)`,
);
console.log(
  `certificates: median ${percentile(times, 50).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms, median size ${(percentile(sizes, 50) / 1024).toFixed(1)} KB over ${COUNT}`,
);
