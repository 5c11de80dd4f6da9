import type { Document } from 'bson';
import { MingoError } from 'mingo/util';
import { StoreError, toStoreError } from '../errors.js';
import { adminCommands } from './admin.js';
import type { CommandContext, Handler } from './context.js';
import { ddlCommands } from './ddl.js';
import { readCommands } from './read.js';
import { writeCommands } from './write.js';

const handlers: Record<string, Handler> = {
  ...adminCommands,
  ...readCommands,
  ...writeCommands,
  ...ddlCommands,
};

const transactionCommands = new Set(['commitTransaction', 'abortTransaction']);

const unsupported: Record<string, string> = {
  mapReduce: 'mapReduce',
  mapreduce: 'mapReduce',
  saslStart: 'Authentication',
  authenticate: 'Authentication',
};

function refuseTransactions(name: string, body: Document): void {
  if (
    transactionCommands.has(name) ||
    body.startTransaction !== undefined ||
    body.autocommit !== undefined ||
    body.txnNumber !== undefined
  ) {
    throw new StoreError(
      20,
      'Transaction numbers are only allowed on a replica set member or mongos',
    );
  }
}

/** Runs one command and returns its reply; never throws. */
export async function runCommand(body: Document, ctx: CommandContext): Promise<Document> {
  const name = Object.keys(body)[0] ?? '';
  const started = performance.now();
  // A change stream's getMore waits for events on purpose: never a slow operation.
  const awaiting = name === 'getMore' && ctx.cursors.isChangeStream(body.getMore);
  try {
    refuseTransactions(name, body);
    if (unsupported[name])
      throw new StoreError(115, `${unsupported[name]} is not supported by the embedded store`);
    const handler = Object.prototype.hasOwnProperty.call(handlers, name)
      ? handlers[name]
      : undefined;
    if (!handler) throw new StoreError(59, `no such command: '${name}'`);
    return await handler(body, ctx);
  } catch (err) {
    if (err instanceof StoreError || err instanceof MingoError) return toStoreError(err).toReply();
    ctx.logger.warn(
      { cmd: name, err: (err as Error).message },
      'store: command failed unexpectedly',
    );
    return new StoreError(1, (err as Error).message).toReply();
  } finally {
    const ms = performance.now() - started;
    if (ms > 100 && !awaiting) {
      const coll = typeof body[name] === 'string' ? body[name] : undefined;
      ctx.logger.warn({ cmd: name, db: ctx.db, coll, ms: Math.round(ms) }, 'store: slow operation');
    }
  }
}
