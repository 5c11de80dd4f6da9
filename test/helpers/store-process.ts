import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { compiled } from './compiled.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');

export interface StoreProcess {
  /** MONGODB_URI for app processes, as `npm run db` printed it (database `tsunagu`). */
  uri: string;
  child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then resolves with the exit code (0 on a clean stop). */
  stop(): Promise<number | null>;
}

/**
 * Starts `npm run db` (src/store/cli.ts) on `dataDir` as a child process and resolves once it
 * accepts connections, with the `MONGODB_URI=` line it printed. App processes given that
 * MONGODB_URI (and running as the same account) share the store. `env` adds variables
 * (STORE_FSYNC, STORE_PORT, LOG_LEVEL …).
 */
export function startStoreProcess(
  dataDir: string,
  env: Record<string, string> = {},
  timeoutMs = 30_000,
): Promise<StoreProcess> {
  const child = spawn(process.execPath, [compiled('src/store/cli.ts')], {
    cwd: projectRoot,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env, DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`npm run db did not start within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const collect = (chunk: Buffer) => {
      out += chunk.toString();
      const uri = /^MONGODB_URI=(\S+)$/m.exec(out)?.[1];
      if (!uri) return;
      child.stdout.off('data', collect);
      child.stdout.on('data', (more: Buffer) => (out += more.toString()));
      clearTimeout(timer);
      resolve({
        uri,
        child,
        output: () => out,
        stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
      });
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`npm run db exited with ${code}:\n${out}`));
    });
  });
}
