import { writeFileSync } from 'node:fs';

/**
 * Names the calling thread for \`top -H\`, \`ps -L\` and /proc/<pid>/task/<tid>/comm (Linux, at
 * most 15 bytes). Elsewhere, or when /proc is not there, it does nothing: a name is only a help.
 */
export function nameThread(name: string): void {
  try {
    writeFileSync('/proc/thread-self/comm', name.slice(0, 15));
  } catch {
    // Not Linux, or /proc not mounted.
  }
}
