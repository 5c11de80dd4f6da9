import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { MongoClient } from 'mongodb';
import { DEMO_PASSWORD } from '../src/bootstrap/demo.js';
import { startStore } from '../src/store/index.js';
import { csrfFrom } from './helpers/auth.js';
import { eventually } from './helpers/eventually.js';
import { compiled } from './helpers/compiled.js';

/** A free port on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether a TCP connection to host:port is accepted. */
function connects(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `src/server.ts` as `npm start` would run it, and waits until it listens. */
async function startServer(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [compiled('src/server.ts')], {
    env: { PATH: process.env.PATH ?? '', LOG_PRETTY: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!output.includes('Tsunagu is running')) {
    if (child.exitCode !== null) throw new Error(`the server exited early:\n${output}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not start in 60 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { child, output: () => output, exited };
}

describe('src/server.ts (the process npm start runs)', function () {
  this.timeout(240_000);
  const admin = { email: 'first.admin@example.jp', password: 'shinano-river-367km' };
  let dataDir: string;
  let port: number;
  let env: Record<string, string>;

  before(async function () {
    // The process starts its own embedded store; with a real MongoDB configured this is covered elsewhere.
    if (process.env.TEST_MONGODB_URI) this.skip();
    dataDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-server-'));
    port = await freePort();
    env = {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
    };
  });

  it('starts on an empty data folder, serves pages, and stops cleanly on SIGTERM', async () => {
    const server = await startServer(env);
    const base = `http://127.0.0.1:${port}`;
    expect(server.output()).to.contain('first.admin@example.jp');
    const health = await request(base).get('/healthz').expect(200);
    expect(health.body).to.deep.equal({ status: 'ok' });
    // Migrations ran before it listened: ready at once.
    expect((await request(base).get('/readyz').expect(200)).body).to.deep.equal({
      status: 'ready',
    });
    const home = await request(base).get('/').expect(200);
    expect(home.text).to.contain('ひきこもり支援者 多職種基礎研修');
    // Idle connections outlive a proxy's (60 s): it never reuses one the app is closing.
    const agent = new http.Agent({ keepAlive: true });
    const kept = await new Promise<http.IncomingHttpHeaders>((resolve, reject) =>
      http
        .get(`${base}/login`, { agent }, (res) => {
          res.resume();
          resolve(res.headers);
        })
        .on('error', reject),
    );
    agent.destroy();
    expect(kept['keep-alive']).to.equal('timeout=65');

    server.child.kill('SIGTERM');
    expect(await server.exited).to.equal(0);
    expect(server.output()).to.contain('stopped');
  });

  // The restart also runs as behind a proxy (TRUST_PROXY=loopback, HOST unset), which makes it
  // listen on loopback only: one start of the app fewer (a few seconds of CPU each).
  it('keeps its data across a restart: the administrator signs in and is not created again; behind a proxy it listens on loopback only', async () => {
    // Run alone (mocha -g), the first start has not happened yet in this data folder.
    if (!existsSync(path.join(dataDir, 'store'))) {
      const first = await startServer(env);
      first.child.kill('SIGTERM');
      expect(await first.exited).to.equal(0);
    }
    // As an older version left it: open to every local account. The start closes it again.
    chmodSync(dataDir, 0o755);
    const { HOST: _host, ...withoutHost } = env;
    const server = await startServer({ ...withoutHost, TRUST_PROXY: 'loopback' });
    try {
      const external = Object.values(networkInterfaces())
        .flat()
        .find((entry) => entry && entry.family === 'IPv4' && !entry.internal);
      if (external) expect(await connects(external.address, port)).to.equal(false);
      expect((statSync(dataDir).mode & 0o777).toString(8)).to.equal('700');
      expect(server.output()).to.contain('DATA_DIR was open to other accounts');
      expect(statSync(path.join(dataDir, 'store', 'store.sock')).isSocket()).to.equal(true);
      expect(server.output()).not.to.contain('first administrator');
      const agent = request.agent(`http://127.0.0.1:${port}`);
      const login = await agent.get('/login').expect(200);
      await agent
        .post('/login')
        .type('form')
        .send({ email: admin.email, password: admin.password, _csrf: csrfFrom(login.text) })
        .expect(302)
        .expect('location', '/');
      const users = await agent.get('/admin/users').expect(200);
      expect(users.text).to.contain('first.admin@example.jp');
      const health = await agent.get('/healthz').expect(200);
      expect(health.body.database).to.include({ kind: 'embedded', up: true });
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).to.equal(0);
    }
  });

  it('refuses to start with a bad configuration and names every bad variable', async () => {
    const child = spawn(process.execPath, [compiled('src/server.ts')], {
      env: {
        PATH: process.env.PATH ?? '',
        PORT: 'eighty',
        MONGODB_URI: 'postgres://x',
        TRUST_PROXY: 'true',
        DATA_DIR: dataDir,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).to.equal(1);
    expect(output).to.contain('PORT');
    expect(output).to.contain('MONGODB_URI');
    expect(output).to.contain('TRUST_PROXY');
  });

  it('runs as several processes on one database: a suspension in one signs the user out in the other', async () => {
    const store = await startStore({ dataDir: null });
    const shared = {
      HOST: '127.0.0.1',
      MONGODB_URI: `${store.uri}/multi`,
      SESSION_SECRET: 'one-secret-for-every-process-0123456789',
      DEMO: 'true',
    };
    const [portA, portB] = [await freePort(), await freePort()];
    const dirA = mkdtempSync(path.join(tmpdir(), 'tsunagu-a-'));
    const dirB = mkdtempSync(path.join(tmpdir(), 'tsunagu-b-'));
    // The first start seeds the database; the second finds it ready.
    const a = await startServer({ ...shared, PORT: String(portA), DATA_DIR: dirA });
    const b = await startServer({ ...shared, PORT: String(portB), DATA_DIR: dirB });
    const client = await MongoClient.connect(store.uri);
    try {
      const [baseA, baseB] = [`http://127.0.0.1:${portA}`, `http://127.0.0.1:${portB}`];
      const signInOn = async (base: string, email: string) => {
        const agent = request.agent(base);
        const login = await agent.get('/login').expect(200);
        await agent
          .post('/login')
          .type('form')
          .send({ email, password: DEMO_PASSWORD, _csrf: csrfFrom(login.text) })
          .expect(302);
        return agent;
      };
      const traineeEmail = 'trainee1.nagano@demo.tsunagu.local';
      const trainee = await signInOn(baseA, traineeEmail);
      await trainee.get('/learn').expect(200);
      const adminA = await signInOn(baseA, 'admin@demo.tsunagu.local');
      const health = await adminA.get('/healthz').expect(200);
      expect(health.body.database).to.include({ kind: 'external', up: true });
      expect(health.body.database.readCaches.live).to.equal(true);
      // Sessions live in the database: the same cookie works on the other process.
      const cookie = (await trainee.get('/learn')).request.cookies;
      await request(baseB).get('/learn').set('cookie', cookie).expect(200);

      const admin = await signInOn(baseB, 'admin@demo.tsunagu.local');
      const target = await client.db('multi').collection('users').findOne({ email: traineeEmail });
      const page = await admin.get(`/admin/users/${String(target!._id)}`).expect(200);
      await admin
        .post(`/admin/users/${String(target!._id)}/suspend`)
        .type('form')
        .send({ _csrf: csrfFrom(page.text) })
        .expect(303);
      // Process A had the trainee cached; the change reaches it through the change stream.
      await eventually(async () => {
        const res = await trainee.get('/learn');
        return res.status === 302 && /^\/login/.test(res.headers.location ?? '');
      }, 'process A signs the suspended trainee out');
    } finally {
      await client.close();
      a.child.kill('SIGTERM');
      b.child.kill('SIGTERM');
      await Promise.all([a.exited, b.exited]);
      await store.close();
    }
  });
});
