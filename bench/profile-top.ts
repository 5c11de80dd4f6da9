/**
 * `npx tsx bench/profile-top.ts <file.cpuprofile> [rows]`: where a CPU profile (e.g. one written
 * by `BENCH_CPU_PROF=<dir> npm run bench:learning`) spends its time — self time by function and
 * by package or source folder, and inclusive time of the app's own functions.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  startTime: number;
  endTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, rowsArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/profile-top.ts <file.cpuprofile> [rows]');
  process.exit(2);
}
const rows = Number(rowsArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// PROFILE_LAST=<seconds>: only the samples of the profile's last seconds (e.g. one bench phase
// before the process exited); PROFILE_SKIP_LAST=<seconds> leaves out its very end.
const last = Number(process.env.PROFILE_LAST ?? 0) * 1e6;
const skipLast = Number(process.env.PROFILE_SKIP_LAST ?? 0) * 1e6;
const self = new Map<number, number>();
let total = 0;
let at = profile.startTime;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  at += dt;
  if (last && at < profile.endTime - skipLast - last) return;
  if (at > profile.endTime - skipLast) return;
  self.set(id, (self.get(id) ?? 0) + dt);
  total += dt;
});

function where(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const src = Math.max(url.indexOf('/src/'), url.indexOf('/dist/'));
  if (src >= 0) return url.slice(src + 1).replace(/\/[^/]*$/, '');
  if (url.startsWith('node:')) return 'node';
  return url ? url.replace(/^.*\//, '') : '(native)';
}

const label = (n: ProfileNode) => {
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/(node_modules|src|dist)\//, '$1/');
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
};

const selfByFn = new Map<string, number>();
const selfByPlace = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  selfByFn.set(label(n), (selfByFn.get(label(n)) ?? 0) + t);
  const place = where(n.callFrame.url) || n.callFrame.functionName;
  selfByPlace.set(place, (selfByPlace.get(place) ?? 0) + t);
  // Inclusive time of our own functions (src/), counted once per sample and function.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const node = byId.get(cur)!;
    if (!/\/(src|dist)\//.test(node.callFrame.url)) continue;
    const key = label(node);
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + t);
  }
}

const pct = (t: number) => `${((t * 100) / total).toFixed(1).padStart(5)}%`;
const print = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [k, t] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows))
    console.log(`${pct(t)}  ${k}`);
};
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
print('self time by package / folder', selfByPlace);
print('self time by function', selfByFn);
print('inclusive time, app functions (src/)', inclusive);
