/**
 * Rejected values never reach the log: mongoose validation and duplicate-key errors carry the
 * name or address that failed in their message, and the error handler logs every 500.
 */
import { Writable } from 'node:stream';
import { expect } from 'chai';
import express from 'express';
import { stdSerializers } from 'pino';
import request from 'supertest';
import { errorHandler } from '../../src/http/errors.js';
import { AppError } from '../../src/lib/errors.js';
import { createLogger } from '../../src/lib/logger.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { buildUser } from '../helpers/factories.js';

const REJECTED_NAME = `秘密の名前${'𠮷'.repeat(60)}`;

function capturingLogger() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

async function validationError(): Promise<Error> {
  const user = new User({
    name: REJECTED_NAME,
    nameKana: 'ひみつ',
    email: 'secret.person@example.jp',
    passwordHash: 'x',
    roles: ['trainee'],
  });
  return (await user.validate().then(
    () => {
      throw new Error('expected a validation error');
    },
    (error: unknown) => error,
  )) as Error;
}

describe('logging rejected values', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('logs a validation error behind a 500 with its fields, not the rejected name', async () => {
    const error = await validationError();
    // What pino's own error serializer would have logged.
    expect(JSON.stringify(stdSerializers.err(error))).to.contain('秘密の名前');
    const { logger, lines } = capturingLogger();
    const app = express();
    app.get('/plain', () => {
      throw error;
    });
    app.get('/wrapped', () => {
      throw new AppError('保存できませんでした。', { status: 500, code: 'internal', cause: error });
    });
    app.use(errorHandler(logger, false));
    await request(app).get('/plain').set('accept', 'application/json').expect(500);
    await request(app).get('/wrapped').set('accept', 'application/json').expect(500);

    expect(lines).to.have.length(2);
    for (const line of lines) {
      expect(line).not.to.contain('秘密の名前');
      expect(line).not.to.contain('𠮷');
      const entry = JSON.parse(line) as { err: { message: string; stack: string } };
      expect(entry.err.message).to.contain('name (user defined)');
      expect(entry.err.stack).to.match(/\n\s+at /);
    }
  });

  it('logs a duplicate key without the address', async () => {
    await buildUser({ email: 'duplicate.person@example.jp' });
    const error = await User.create({
      name: '重複 花子',
      nameKana: 'ちょうふく はなこ',
      email: 'duplicate.person@example.jp',
      passwordHash: 'x',
      roles: ['trainee'],
    }).then(
      () => new Error('expected a duplicate key'),
      (caught: unknown) => caught as Error,
    );
    expect(error.message).to.contain('duplicate.person'); // what would have been logged
    const { logger, lines } = capturingLogger();
    logger.error({ err: error }, 'could not save');
    expect(lines.join('')).not.to.contain('duplicate.person');
    expect(lines.join('')).to.contain('email (duplicate)');
  });
});
