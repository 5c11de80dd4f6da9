import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { ConfigError, loadConfig, parseEnv } from '../src/config.js';
import { compiled } from './helpers/compiled.js';

describe('config', () => {
  it('starts with zero configuration: port 3000, ./data, generated session secret', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-config-'));
    const config = loadConfig({ DATA_DIR: dataDir });
    expect(config.port).to.equal(3000);
    expect(config.mongodbUri).to.equal(undefined);
    expect(config.sessionSecret).to.have.length.greaterThan(31);
    const file = path.join(dataDir, 'session-secret');
    expect(existsSync(file)).to.equal(true);
    // The same secret is used again on the next start, so sessions survive restarts.
    expect(loadConfig({ DATA_DIR: dataDir }).sessionSecret).to.equal(
      readFileSync(file, 'utf8').trim(),
    );
  });

  it('defaults DATA_DIR to ./data', () => {
    expect(parseEnv({}).DATA_DIR).to.equal('./data');
  });

  it('runs the embedded store in its own thread unless STORE_THREAD=false', () => {
    expect(parseEnv({}).STORE_THREAD).to.equal('true');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-config-'));
    expect(loadConfig({ DATA_DIR: dataDir }).storeThread).to.equal(true);
    expect(loadConfig({ DATA_DIR: dataDir, STORE_THREAD: 'false' }).storeThread).to.equal(false);
  });

  it('lists every bad variable in one message', () => {
    try {
      parseEnv({ PORT: 'eighty', MONGODB_URI: 'postgres://x', LOG_LEVEL: 'loud' });
      expect.fail('parseEnv accepted bad values');
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).to.contain('PORT');
      expect(problems).to.contain('MONGODB_URI');
      expect(problems).to.contain('LOG_LEVEL');
    }
  });

  it('requires SESSION_SECRET in production', () => {
    expect(() => parseEnv({ NODE_ENV: 'production' })).to.throw(ConfigError, /SESSION_SECRET/);
    expect(() => parseEnv({ NODE_ENV: 'production', SESSION_SECRET: 'short' })).to.throw(
      ConfigError,
      /SESSION_SECRET/,
    );
    expect(parseEnv({ NODE_ENV: 'production', SESSION_SECRET: 'x'.repeat(40) }).NODE_ENV).to.equal(
      'production',
    );
  });

  it('treats empty variables as unset', () => {
    expect(parseEnv({ PORT: '', MONGODB_URI: '' }).PORT).to.equal(3000);
  });

  describe('TRUST_PROXY and HOST', () => {
    const dataDir = () => mkdtempSync(path.join(tmpdir(), 'tsunagu-config-'));

    it('trusts no proxy and listens on every interface by default', () => {
      const config = loadConfig({ DATA_DIR: dataDir() });
      expect(config.trustProxy).to.equal(false);
      expect(config.host).to.equal('0.0.0.0');
      expect(loadConfig({ DATA_DIR: dataDir(), TRUST_PROXY: 'false' }).trustProxy).to.equal(false);
      expect(loadConfig({ DATA_DIR: dataDir(), TRUST_PROXY: '0' }).trustProxy).to.equal(false);
    });

    it('takes a hop count or proxy addresses, and then listens on loopback unless HOST says otherwise', () => {
      const hops = loadConfig({ DATA_DIR: dataDir(), TRUST_PROXY: '1' });
      expect(hops.trustProxy).to.equal(1);
      expect(hops.host).to.equal('127.0.0.1');
      const list = loadConfig({
        DATA_DIR: dataDir(),
        TRUST_PROXY: 'loopback, 10.0.0.5,192.168.0.0/16, fd00::/8',
      });
      expect(list.trustProxy).to.deep.equal(['loopback', '10.0.0.5', '192.168.0.0/16', 'fd00::/8']);
      expect(list.host).to.equal('127.0.0.1');
      const explicit = loadConfig({
        DATA_DIR: dataDir(),
        TRUST_PROXY: '10.0.0.5',
        HOST: '10.0.0.9',
      });
      expect(explicit.host).to.equal('10.0.0.9');
    });

    for (const bad of [
      'true',
      'yes',
      '10.0.0.0/33',
      '300.1.1.1',
      '10.0.0.1/8/1',
      'loopback,',
      '11',
      '-1',
    ]) {
      it(`refuses TRUST_PROXY=${bad}`, () => {
        expect(() => parseEnv({ TRUST_PROXY: bad })).to.throw(ConfigError, /TRUST_PROXY/);
      });
    }
  });

  it('creates DATA_DIR 0700 and the session secret 0600, even under umask 000', () => {
    const dataDir = path.join(mkdtempSync(path.join(tmpdir(), 'tsunagu-config-')), 'a', 'data');
    const previous = process.umask(0);
    try {
      loadConfig({ DATA_DIR: dataDir });
    } finally {
      process.umask(previous);
    }
    expect((statSync(dataDir).mode & 0o777).toString(8)).to.equal('700');
    expect((statSync(path.dirname(dataDir)).mode & 0o777).toString(8)).to.equal('700');
    const secret = path.join(dataDir, 'session-secret');
    expect((statSync(secret).mode & 0o777).toString(8)).to.equal('600');
  });

  it('says why it cannot create DATA_DIR where no directory can be made, instead of hanging', function () {
    this.timeout(30_000);
    const root = mkdtempSync(path.join(tmpdir(), 'tsunagu-config-'));
    symlinkSync(path.join(root, 'unmounted-disk'), path.join(root, 'dangling'));
    // Node 20's recursive mkdir spins forever under /proc: run the start-up in a child, with a timeout.
    const config = JSON.stringify(pathToFileURL(compiled('src/config.ts')).href);
    const script = `import { loadConfig } from ${config}; loadConfig({ DATA_DIR: process.argv[1] });`;
    for (const dataDir of ['/proc/self/tsunagu-data', path.join(root, 'dangling', 'data')]) {
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script, dataDir], {
        encoding: 'utf8',
        timeout: 10_000,
      });
      expect(run.signal, `${dataDir}: still running after 10 s`).to.equal(null);
      expect(run.status).to.equal(1);
      expect(run.stderr).to.match(/Error: .*(ENOENT|dangling)/);
      expect(run.stderr).to.contain(dataDir.split('/').slice(0, -1).join('/'));
    }
  });
});
