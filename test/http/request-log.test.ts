import { Writable } from 'node:stream';
import { expect } from 'chai';
import express from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { requestLog } from '../../src/http/request-log.js';

/** An app with the request log and a few routes, logging into an array. */
function appLoggingTo(lines: Record<string, unknown>[]) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const app = express();
  app.use(requestLog(pino({ level: 'info' }, sink)));
  app.get('/ok', (_req, res) => {
    res.send('ok');
  });
  app.get('/missing', (_req, res) => {
    res.status(404).send('no');
  });
  app.get('/broken', (_req, res) => {
    res.status(500).send('broken');
  });
  app.get('/healthz', (_req, res) => {
    res.send('ok');
  });
  return app;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('request log', () => {
  it('logs method, path without the query string, status and time, under the request id', async () => {
    const lines: Record<string, unknown>[] = [];
    const res = await request(appLoggingTo(lines)).get('/ok?token=secret&email=a@b.jp');
    await settle();
    expect(lines).to.have.length(1);
    const [line] = lines;
    expect(line).to.include({ method: 'GET', path: '/ok', status: 200, msg: 'request completed' });
    expect(line.reqId).to.equal(res.headers['x-request-id']);
    expect(line.ms).to.be.a('number');
    expect(JSON.stringify(line)).not.to.contain('secret');
    expect(JSON.stringify(line)).not.to.contain('a@b.jp');
  });

  it('keeps a well-formed incoming x-request-id and replaces a malformed one', async () => {
    const app = appLoggingTo([]);
    const kept = await request(app).get('/ok').set('x-request-id', 'abc-12345.x');
    expect(kept.headers['x-request-id']).to.equal('abc-12345.x');
    const replaced = await request(app).get('/ok').set('x-request-id', '<script>');
    expect(replaced.headers['x-request-id']).to.match(/^[0-9a-f-]{36}$/);
  });

  it('logs 4xx as warnings and 5xx as errors', async () => {
    const lines: Record<string, unknown>[] = [];
    const app = appLoggingTo(lines);
    await request(app).get('/missing');
    await request(app).get('/broken');
    await settle();
    // pino levels: 40 warn, 50 error.
    expect(lines.map((l) => [l.path, l.level])).to.deep.equal([
      ['/missing', 40],
      ['/broken', 50],
    ]);
  });

  it('does not log successful health checks', async () => {
    const lines: Record<string, unknown>[] = [];
    await request(appLoggingTo(lines)).get('/healthz');
    await settle();
    expect(lines).to.deep.equal([]);
  });
});
