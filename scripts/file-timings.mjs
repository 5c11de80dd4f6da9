/**
 * Mocha root-hook plugin for `node scripts/test.mjs --timings`: in a parallel run (root hooks run
 * once per file there), appends one JSON line per test file to $TEST_TIMINGS_FILE: its wall
 * time and the CPU seconds of its worker and of the children the worker waited for (server
 * starts, the crash test's children, Chromium), both counted from the end of the worker's
 * previous file, so loading and compiling the file is included.
 */
import { appendFileSync, readFileSync, readdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { sourceOf } from './compiled-copy.mjs';

const ticks = 100; // USER_HZ on Linux
/** CPU seconds of this process and of its waited-for children, from /proc. */
function cpu() {
  try {
    const fields = readFileSync('/proc/self/stat', 'latin1').split(') ')[1].split(' ');
    // Fields 14-17 of stat(5) (utime stime cutime cstime), here 0-based from field 3.
    const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
    return { own: (utime + stime) / ticks, children: (cutime + cstime) / ticks };
  } catch {
    const { user, system } = process.cpuUsage();
    return { own: (user + system) / 1e6, children: 0 };
  }
}

/**
 * CPU seconds of this process's named threads (the password-hashing and store threads), summed
 * by name: the threads' share is in `own` too, this says how much of it they were.
 */
function threadCpu() {
  const byName = {};
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      try {
        const name = readFileSync(`/proc/self/task/${tid}/comm`, 'latin1').trim();
        if (!name.startsWith('tsunagu-')) continue;
        const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1')
          .split(') ')[1]
          .split(' ');
        byName[name] = (byName[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) / ticks;
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    // not Linux
  }
  return byName;
}

let since = { wall: 0, ...cpu(), threads: threadCpu() };

function fileOf(suite) {
  for (const test of suite.tests) if (test.file) return test.file;
  for (const child of suite.suites) {
    if (child.file) return child.file;
    const found = fileOf(child);
    if (found) return found;
  }
  return null;
}

export const mochaHooks = {
  afterAll() {
    const out = process.env.TEST_TIMINGS_FILE;
    const file = fileOf(this.test.parent);
    if (!out || !file) return;
    const now = { wall: performance.now(), ...cpu(), threads: threadCpu() };
    // A thread that ended since the last file counts from 0 in its successor.
    const threads = Object.fromEntries(
      Object.entries(now.threads).map(([name, seconds]) => [
        name,
        Math.max(0, seconds - (since.threads[name] ?? 0)),
      ]),
    );
    const line = {
      file:
        sourceOf(file) ??
        (file.startsWith(process.cwd()) ? file.slice(process.cwd().length + 1) : file),
      pid: process.pid,
      wall: (now.wall - since.wall) / 1000,
      cpu: now.own - since.own,
      childCpu: now.children - since.children,
      threads,
      /** When the file ended (ms since the epoch): with wall, where it ran in the whole run. */
      end: Date.now(),
    };
    since = now;
    appendFileSync(out, JSON.stringify(line) + '\n');
  },
};
