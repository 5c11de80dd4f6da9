/**
 * `npx tsx bench/anonymisation.ts` — the anonymisation guard's cost: the memory and time of the
 * first call (which builds kuromoji's dictionary), then the time per 5,000-character section
 * after warm-up (median and p95 of BENCH_RUNS runs, default 50). Run with `node --expose-gc
 * --import tsx` for memory figures measured after a garbage collection.
 */
import { findIdentifiers } from '../src/case-studies/anonymisation.js';

const PARAGRAPH =
  '支援開始から3か月は母親との面談を中心に進めた。本人は20歳代前半の男性で、高校卒業後に就職したが半年で退職し、' +
  'その後は自室で過ごすことが多い。母親は「このままでは親が先に倒れてしまう」と涙ぐみ、父親は支援に否定的だった。' +
  '民生委員の田中さんから連絡を受け、松本の病院に通う祖母の話も聞いた。週2回、午後3時に訪問し、ゲームの話から' +
  '関係をつくった。地域若者サポートステーションや市町村の相談窓口と役割を分け、家族教室への参加も勧めた。';

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function collect(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const text = PARAGRAPH.repeat(Math.ceil(5000 / PARAGRAPH.length)).slice(0, 5000);
const runs = Number(process.env.BENCH_RUNS ?? 50);

collect();
const before = process.memoryUsage();
let started = performance.now();
await findIdentifiers('準備');
const firstCall = performance.now() - started;
collect();
const after = process.memoryUsage();
console.log(`first call: ${firstCall.toFixed(0)} ms`);
console.log(
  `memory: rss +${megabytes(after.rss - before.rss)}, heap +${megabytes(after.heapUsed - before.heapUsed)}` +
    `, external (typed arrays) +${megabytes(after.external - before.external)}`,
);

for (let warm = 0; warm < 5; warm++) await findIdentifiers(text);
const times: number[] = [];
let findings = 0;
for (let run = 0; run < runs; run++) {
  started = performance.now();
  findings = (await findIdentifiers(text)).length;
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
const at = (share: number) => times[Math.min(times.length - 1, Math.floor(share * times.length))];
console.log(
  `5,000 characters (${findings} findings): median ${at(0.5).toFixed(1)} ms, p95 ${at(0.95).toFixed(1)} ms over ${runs} runs`,
);
console.log(`rss after the runs: ${megabytes(process.memoryUsage().rss)}`);
