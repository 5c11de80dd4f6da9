import { readFileSync, readdirSync } from 'node:fs';

/** The names of this process's threads, as \`top -H\` shows them (Linux only). */
export function threadNames(): string[] {
  return readdirSync('/proc/self/task').map((tid) =>
    readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(),
  );
}
