import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { BSON, type Db, type Document } from 'mongodb';
import tar from 'tar-stream';
import { compiled } from '../helpers/compiled.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');

/**
 * Runs `npm run backup` / `npm run restore` (src/operations/cli.ts, compiled) with `args` and
 * `env` on top of this process's environment (LOG_LEVEL silent, NODE_ENV test), from the
 * project's root; resolves with its exit status and output once it has exited.
 */
export function runOperationsCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [compiled('src/operations/cli.ts'), ...args], {
    cwd: projectRoot,
    env: { ...process.env, LOG_LEVEL: 'silent', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** Every file of a .tar.gz, by name (small test archives only). */
export async function readArchive(file: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  const consume = (async () => {
    for await (const entry of extract) {
      const parts: Buffer[] = [];
      for await (const chunk of entry) parts.push(chunk as Buffer);
      files.set(entry.header.name, Buffer.concat(parts));
    }
  })();
  await Promise.all([pipeline(createReadStream(file), createGunzip(), extract), consume]);
  return files;
}

/** Splits concatenated BSON, checking that the sizes add up exactly to the data's length. */
export function splitBson(data: Buffer): Buffer[] {
  const documents: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const size = data.readInt32LE(at);
    if (size < 5 || at + size > data.length) throw new Error(`bad document size at ${at}`);
    if (data[at + size - 1] !== 0) throw new Error(`document at ${at} does not end with 0x00`);
    documents.push(data.subarray(at, at + size));
    at += size;
  }
  return documents;
}

/** The user collections of a database, by name. */
export async function collectionNames(db: Db): Promise<string[]> {
  const list = await db.listCollections({}, { nameOnly: true }).toArray();
  return list
    .map((c) => c.name)
    .filter((n) => !n.startsWith('system.'))
    .sort();
}

/** A collection's documents as their exact BSON bytes, keyed by their _id's bytes. */
export async function rawDocuments(db: Db, name: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for await (const raw of db.collection(name).find({}, { raw: true })) {
    const bytes = Buffer.from(raw as unknown as Buffer);
    out.set(idKey(BSON.deserialize(bytes)._id), bytes);
  }
  return out;
}

export function idKey(id: unknown): string {
  return Buffer.from(BSON.serialize({ id })).toString('hex');
}

/** listIndexes without the fields that only say where the index lives. */
export async function indexSpecs(db: Db, name: string): Promise<Document[]> {
  const specs = (await db.collection(name).listIndexes().toArray()) as Document[];
  return specs
    .map((spec): Document => {
      const { ns: _ns, ...rest } = spec;
      return rest;
    })
    .sort((a, b) => String(a.name).localeCompare(String(b.name)));
}

/**
 * `openFile` for backupDatabase: real files on a disk that has `free` bytes left across all of
 * them, after which every write fails with ENOSPC, as a full disk answers.
 */
export function diskWithRoom(free: number): {
  openFile: (file: string) => Writable;
  used: () => number;
} {
  let used = 0;
  return {
    used: () => used,
    openFile(file: string) {
      const real = createWriteStream(file, { mode: 0o600 });
      return new Writable({
        write(chunk: Buffer, _encoding, done) {
          if (used + chunk.length > free) {
            const error = new Error(
              'ENOSPC: no space left on device, write',
            ) as NodeJS.ErrnoException;
            error.code = 'ENOSPC';
            error.errno = -28;
            error.syscall = 'write';
            return done(error);
          }
          used += chunk.length;
          real.write(chunk, (error) => done(error));
        },
        final(done) {
          real.end(() => done());
        },
        destroy(error, done) {
          real.destroy();
          done(error);
        },
      });
    },
  };
}
