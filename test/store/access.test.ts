import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { openFilePersistence } from '../../src/store/durability/index.js';
import { startStore, storeUri } from '../../src/store/index.js';
import { decodeOptions } from '../../src/store/wire.js';
import { eventually } from '../helpers/eventually.js';
import { startStoreProcess } from '../helpers/store-process.js';
import { capturingLogger, tempDir } from './fixtures/crash-helpers.js';
import { onRealMongo } from './helpers.js';

/** Permission bits of `file` as octal text ('700'), without following a symbolic link. */
function modeOf(file: string): string {
  return (lstatSync(file).mode & 0o777).toString(8);
}

/** Every entry under `dir` (itself included) with its mode, to compare with what is expected. */
function modesUnder(dir: string): Record<string, string> {
  const found: Record<string, string> = { '.': modeOf(dir) };
  for (const entry of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    found[entry] = modeOf(path.join(dir, entry));
  }
  return found;
}

/** Inodes of the TCP sockets this process listens on (Linux: /proc/net/tcp and tcp6). */
function listeningTcpSockets(): Set<string> {
  const listening = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const columns = line.trim().split(/\s+/);
      if (columns[3] === '0A') listening.add(columns[9]);
    }
  }
  const mine = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode && listening.has(inode)) mine.add(inode);
  }
  return mine;
}

/** Runs `fn` with umask 000, the loosest there is: the store must not rely on the umask. */
async function withOpenUmask<T>(fn: () => Promise<T>): Promise<T> {
  const previous = process.umask(0);
  try {
    return await fn();
  } finally {
    process.umask(previous);
  }
}

/** Writes until the store has compacted its journal into a snapshot. */
async function writeUntilSnapshot(uri: string, dir: string): Promise<void> {
  const client = await MongoClient.connect(uri);
  try {
    const items = client.db('app').collection('items');
    for (let round = 0; !existsSync(path.join(dir, 'snapshot.bson')); round++) {
      if (round > 100) throw new Error('no snapshot after 100 rounds of writes');
      await items.insertMany(
        Array.from({ length: 50 }, (_, i) => ({ round, i, pad: 'x'.repeat(50) })),
      );
    }
  } finally {
    await client.close();
  }
}

describe('store: only its owner can reach it (embedded store only)', function () {
  this.timeout(30_000);
  let root: string;
  before(function () {
    if (onRealMongo) this.skip();
  });
  beforeEach(() => {
    root = tempDir();
    // The parent is open to everyone, so only the store's own directory can keep others out.
    chmodSync(root, 0o755);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates its directories 0700 and every file 0600 (journal, snapshot, LOCK, socket) under umask 000', async () => {
    const dataDir = path.join(root, 'data');
    const dir = path.join(dataDir, 'store');
    await withOpenUmask(async () => {
      const persistence = await openFilePersistence(dir, {
        compactAfterBytes: 20_000,
        deserializeOptions: decodeOptions,
      });
      const store = await startStore({ dataDir: dir, persistence });
      try {
        await writeUntilSnapshot(store.uri, dir);
        await eventually(() => !existsSync(path.join(dir, 'snapshot.bson.tmp')), 'compaction ends');
        const modes = modesUnder(dataDir);
        expect(Object.keys(modes)).to.include.members([
          'store/LOCK',
          'store/snapshot.bson',
          'store/store.sock',
        ]);
        expect(Object.keys(modes).some((name) => /^store\/journal-\d+\.log$/.test(name))).to.equal(
          true,
        );
        for (const [name, mode] of Object.entries(modes)) {
          const isDir = statSync(path.join(dataDir, name)).isDirectory();
          expect(mode, name).to.equal(isDir ? '700' : '600');
        }
        expect(lstatSync(store.socketPath).isSocket()).to.equal(true);
      } finally {
        await store.close();
      }
    });
  });

  it('tightens a data directory and files that an older version left readable by everyone', async () => {
    const dir = path.join(root, 'store');
    const first = await startStore({ dataDir: dir });
    const client = await MongoClient.connect(first.uri);
    await client.db('app').collection('users').insertOne({ passwordHash: 'x' });
    await client.close();
    await first.close();
    chmodSync(dir, 0o755);
    for (const name of readdirSync(dir)) chmodSync(path.join(dir, name), 0o644);

    const { logger, lines } = capturingLogger();
    const store = await startStore({ dataDir: dir, logger });
    try {
      for (const [name, mode] of Object.entries(modesUnder(dir))) {
        expect(mode, name).to.equal(name === '.' ? '700' : '600');
      }
      const warnings = lines.filter((l) => l.level === 40).map((l) => l.msg);
      expect(warnings).to.have.length(2);
      expect(warnings.join('\n')).to.match(/0700/).and.to.match(/0600/);
    } finally {
      await store.close();
    }
  });

  it('listens on a Unix socket and on no TCP port, in memory too', async function () {
    if (process.platform !== 'linux') this.skip();
    const before = listeningTcpSockets();
    const onDisk = await startStore({ dataDir: path.join(root, 'store') });
    const inMemory = await startStore({ dataDir: null });
    try {
      expect([...listeningTcpSockets()].filter((inode) => !before.has(inode))).to.deep.equal([]);
      for (const store of [onDisk, inMemory]) {
        expect(store.addresses()).to.deep.equal([store.socketPath]);
        expect(store.tcp).to.equal(null);
        expect(store.uri).to.equal(`mongodb://${encodeURIComponent(store.socketPath)}`);
        expect(modeOf(store.socketPath)).to.equal('600');
        expect(modeOf(path.dirname(store.socketPath))).to.equal('700');
        const client = await MongoClient.connect(`${store.uri}/app`);
        expect((await client.db().command({ ping: 1 })).ok).to.equal(1);
        await client.close();
      }
    } finally {
      await onDisk.close();
      await inMemory.close();
    }
    // Closing removes the socket and the in-memory store's temp directory.
    expect(existsSync(onDisk.socketPath)).to.equal(false);
    expect(existsSync(path.dirname(inMemory.socketPath))).to.equal(false);
  });

  it('keeps another local account out: it can neither list, read nor connect', async function () {
    if (process.getuid?.() !== 0) this.skip(); // needs root to act as another account
    const dir = path.join(root, 'data', 'store');
    const store = await startStore({ dataDir: dir });
    try {
      const journal = readdirSync(dir).find((name) => name.startsWith('journal-'))!;
      const probe = `
        const fs = require('node:fs'), net = require('node:net');
        const [dataDir, journal, socketPath] = process.argv.slice(1);
        const out = {};
        try { fs.readdirSync(dataDir); out.list = 'ok'; } catch (e) { out.list = e.code; }
        try { fs.readFileSync(journal); out.read = 'ok'; } catch (e) { out.read = e.code; }
        const s = net.connect(socketPath);
        const done = (r) => { out.connect = r; console.log(JSON.stringify(out)); process.exit(0); };
        s.on('connect', () => done('ok'));
        s.on('error', (e) => done(e.code));`;
      const child = spawn(
        process.execPath,
        ['-e', probe, path.join(root, 'data'), path.join(dir, journal), store.socketPath],
        { uid: 65534, gid: 65534, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      await new Promise((resolve) => child.on('exit', resolve));
      expect(JSON.parse(out)).to.deep.equal({ list: 'EACCES', read: 'EACCES', connect: 'EACCES' });
    } finally {
      await store.close();
    }
  });

  it('replaces the socket a killed store left, but not one a live server answers on, nor a file', async () => {
    const dir = path.join(root, 'store');
    mkdirSync(dir);
    const socketPath = path.join(dir, 'store.sock');
    // A process listening on the path, then SIGKILLed: the socket file stays, nobody answers.
    const listener = spawn(
      process.execPath,
      [
        '-e',
        "require('node:net').createServer().listen(process.argv[1], () => console.log('up'))",
        socketPath,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const exited = new Promise((resolve) => listener.once('exit', resolve));
    try {
      await new Promise((resolve) => listener.stdout.once('data', resolve));
      // While it lives, the store refuses to take the path over.
      const refused = await startStore({ dataDir: dir }).catch((e: unknown) => e as Error);
      expect(refused).to.be.instanceOf(Error);
      expect((refused as Error).message).to.match(/another server is listening on .*store\.sock/);
    } finally {
      listener.kill('SIGKILL');
      await exited;
    }
    expect(lstatSync(socketPath).isSocket()).to.equal(true);
    const store = await startStore({ dataDir: dir });
    try {
      const client = await MongoClient.connect(store.uri);
      expect((await client.db('app').command({ ping: 1 })).ok).to.equal(1);
      await client.close();
    } finally {
      await store.close();
    }
    writeFileSync(socketPath, 'not a socket');
    const notSocket = await startStore({ dataDir: dir }).catch((e: unknown) => e as Error);
    expect((notSocket as Error).message).to.match(/exists and is not a socket/);
  });

  it('refuses a data directory too deep for a socket path, clearly and before creating anything', async () => {
    const deep = path.join(root, 'a-rather-long-folder-name'.repeat(4), 'store');
    const error = await startStore({ dataDir: deep }).catch((e: unknown) => e as Error);
    expect(error).to.be.instanceOf(Error);
    expect((error as Error).message).to.match(/socket path .* bytes long, more than the 10\d/);
    expect((error as Error).message).to.contain('shorter DATA_DIR');
    expect(existsSync(deep)).to.equal(false);
  });

  it('npm run db: prints MONGODB_URI, tightens DATA_DIR, serves app processes and stops on SIGTERM', async () => {
    const dataDir = path.join(root, 'data');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    // The child inherits umask 000: nothing it creates may be looser for that.
    const db = await withOpenUmask(() => startStoreProcess(dataDir, { LOG_LEVEL: 'info' }));
    try {
      const { uri } = db;
      const out = db.output();
      expect(uri).to.equal(storeUri(dataDir));
      expect(uri).to.match(/^mongodb:\/\/%2F.*%2Fstore%2Fstore\.sock\/tsunagu$/);
      expect(out).to.contain(`mongosh '${uri}'`);
      expect(out).to.match(/DATA_DIR was open to other accounts/);

      const client = await MongoClient.connect(uri);
      await client.db().collection('probe').insertOne({ ok: true });
      expect(client.db().databaseName).to.equal('tsunagu');
      expect(await client.db().collection('probe').countDocuments()).to.equal(1);
      await client.close();
      for (const [name, mode] of Object.entries(modesUnder(dataDir))) {
        const isDir = statSync(path.join(dataDir, name)).isDirectory();
        expect(mode, name).to.equal(isDir ? '700' : '600');
      }

      expect(await db.stop()).to.equal(0);
      expect(existsSync(path.join(dataDir, 'store', 'store.sock'))).to.equal(false);
    } finally {
      if (db.child.exitCode === null) db.child.kill('SIGKILL');
    }
  });
});

describe('store: the optional TCP listener requires SCRAM-SHA-256 (embedded store only)', function () {
  this.timeout(30_000);
  let root: string;
  before(function () {
    if (onRealMongo) this.skip();
  });
  beforeEach(() => (root = tempDir()));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('serves the driver with the generated credentials, on 127.0.0.1 only, keeping the password 0600 across restarts', async () => {
    const dir = path.join(root, 'store');
    const store = await startStore({ dataDir: dir, tcp: { port: 0 } });
    try {
      const tcp = store.tcp!;
      expect(store.addresses()).to.deep.include({
        address: '127.0.0.1',
        family: 'IPv4',
        port: tcp.port,
      });
      const password = readFileSync(path.join(dir, 'tcp-password'), 'utf8').trim();
      expect(password).to.have.length.at.least(40);
      expect(modeOf(path.join(dir, 'tcp-password'))).to.equal('600');
      expect(tcp.uri).to.equal(
        `mongodb://tsunagu:${password}@127.0.0.1:${tcp.port}/?authSource=admin`,
      );
      const client = await MongoClient.connect(tcp.uri, { serverSelectionTimeoutMS: 5000 });
      try {
        await client.db('app').collection('users').insertOne({ role: 'trainee' });
        expect(await client.db('app').collection('users').countDocuments()).to.equal(1);
      } finally {
        await client.close();
      }
    } finally {
      await store.close();
    }
    const again = await startStore({ dataDir: dir, tcp: { port: 0 } });
    try {
      expect(again.tcp!.uri).to.contain(
        `:${readFileSync(path.join(dir, 'tcp-password'), 'utf8').trim()}@`,
      );
      const client = await MongoClient.connect(again.tcp!.uri, { serverSelectionTimeoutMS: 5000 });
      expect(await client.db('app').collection('users').countDocuments()).to.equal(1);
      await client.close();
    } finally {
      await again.close();
    }
  });

  it('refuses a wrong password, and every command but hello and ping without credentials', async () => {
    const store = await startStore({ dataDir: path.join(root, 'store'), tcp: { port: 0 } });
    const port = store.tcp!.port;
    try {
      const wrong = await MongoClient.connect(
        `mongodb://tsunagu:not-the-password-0123456789@127.0.0.1:${port}/?authSource=admin`,
        { serverSelectionTimeoutMS: 5000 },
      ).catch((e: unknown) => e as { code?: number; message: string });
      expect(wrong).to.include({ code: 18 });

      const anonymous = new MongoClient(`mongodb://127.0.0.1:${port}/app`, {
        serverSelectionTimeoutMS: 5000,
      });
      try {
        expect((await anonymous.db().command({ ping: 1 })).ok).to.equal(1);
        for (const attempt of [
          () => anonymous.db().collection('users').find().toArray(),
          () =>
            anonymous
              .db()
              .collection('users')
              .updateOne({}, { $set: { role: 'admin' } }),
          () => anonymous.db().admin().listDatabases(),
        ]) {
          const error = await attempt().catch((e: unknown) => e as { code?: number });
          expect(error).to.include({ code: 13 });
        }
      } finally {
        await anonymous.close();
      }
      // The socket needs no credentials: its file permissions are the access control.
      const local = await MongoClient.connect(`${store.uri}/app`);
      expect(await local.db().collection('users').countDocuments()).to.equal(0);
      await local.close();
    } finally {
      await store.close();
    }
  });
});
