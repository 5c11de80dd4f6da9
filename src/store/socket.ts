import { chmod, lstat, mkdtemp, rm, unlink } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Where the store listens: a Unix domain socket, never a TCP port. Only the account that owns
 * the socket's directory (0700) can reach it, and the socket itself is 0600, so no other local
 * user can talk to the store (on Linux, connecting needs write permission on the socket file).
 */

/** The socket's file name inside the store's data directory. The driver needs the `.sock` ending. */
export const SOCKET_FILE = 'store.sock';

/**
 * The longest socket path the kernel accepts: sun_path is 108 bytes on Linux and 104 on macOS
 * and the BSDs, including the terminating NUL.
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

/**
 * The driver URI of a socket: the path percent-encoded as the host. The mongodb driver and
 * mongosh both read a host ending in `.sock` as a socket path. Append `/<db>` for a database.
 */
export function socketUri(socketPath: string): string {
  return `mongodb://${encodeURIComponent(socketPath)}`;
}

export function checkSocketPathLength(socketPath: string): void {
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new Error(
      `store: the socket path ${socketPath} is ${bytes} bytes long, more than the ` +
        `${MAX_SOCKET_PATH_BYTES} a Unix socket path may have; use a shorter DATA_DIR`,
    );
  }
}

/** A fresh 0700 directory of our own under the system temp dir, for an in-memory store's socket. */
export async function privateTempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'tsunagu-store-'));
  await chmod(dir, 0o700);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/**
 * Removes a socket file left by a store that died (SIGKILL, power loss): one that nobody
 * answers on. Refuses when a live server answers there, or when the path is not a socket.
 */
export async function clearStaleSocket(socketPath: string): Promise<void> {
  const found = await lstat(socketPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (!found) return;
  if (!found.isSocket()) {
    throw new Error(`store: ${socketPath} exists and is not a socket; remove it first`);
  }
  const answered = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (answered) {
    throw new Error(`store: another server is listening on ${socketPath}; stop it first`);
  }
  await unlink(socketPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'ENOENT') throw error;
  });
}
