import type { Document } from 'bson';
import { calculateObjectSize } from 'bson';
import { maxBsonObjectSize, maxMessageBytes } from '../wire.js';
import type { CommandContext, Handler } from './context.js';

/** The version the store reports: its behaviour follows MongoDB 7.0 (wire version 21). */
const version = '7.0.0';

function hello(_body: Document, ctx: CommandContext): Document {
  // No topologyVersion: it would switch the driver to streaming (exhaust) hello.
  return {
    helloOk: true,
    ismaster: true,
    isWritablePrimary: true,
    maxBsonObjectSize,
    maxMessageSizeBytes: maxMessageBytes,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.connectionId,
    minWireVersion: 0,
    maxWireVersion: 21,
    readOnly: false,
    ok: 1,
  };
}

function buildInfo(): Document {
  return {
    version,
    gitVersion: 'tsunagu-embedded-store',
    versionArray: [7, 0, 0, 0],
    bits: 64,
    debug: false,
    maxBsonObjectSize,
    storageEngines: ['tsunagu-journal'],
    modules: [],
    javascriptEngine: 'none',
    ok: 1,
  };
}

function dataSize(
  ctx: CommandContext,
  db: string,
): { objects: number; bytes: number; collections: number } {
  let objects = 0;
  let bytes = 0;
  const colls = ctx.engine.collections(db);
  for (const c of colls) {
    objects += c.docs.size;
    for (const d of c.docs.values()) bytes += calculateObjectSize(d);
  }
  return { objects, bytes, collections: colls.length };
}

function listDatabases(body: Document, ctx: CommandContext): Document {
  const names = [...ctx.engine.dbs.keys()].sort();
  if (body.nameOnly) return { databases: names.map((name) => ({ name })), ok: 1 };
  let totalSize = 0;
  const databases = names.map((name) => {
    const { bytes } = dataSize(ctx, name);
    totalSize += bytes;
    return { name, sizeOnDisk: bytes, empty: bytes === 0 };
  });
  return { databases, totalSize, totalSizeMb: Math.round(totalSize / 1048576), ok: 1 };
}

function dbStats(_body: Document, ctx: CommandContext): Document {
  const { objects, bytes, collections } = dataSize(ctx, ctx.db);
  let indexes = 0;
  for (const c of ctx.engine.collections(ctx.db)) indexes += 1 + c.indexes.size;
  return {
    db: ctx.db,
    collections,
    views: 0,
    objects,
    avgObjSize: objects ? bytes / objects : 0,
    dataSize: bytes,
    storageSize: bytes,
    indexes,
    indexSize: 0,
    totalSize: bytes,
    scaleFactor: 1,
    ok: 1,
  };
}

const ok: Handler = () => ({ ok: 1 });

export const adminCommands: Record<string, Handler> = {
  hello,
  ismaster: hello,
  isMaster: hello,
  ping: ok,
  buildInfo,
  buildinfo: buildInfo,
  hostInfo: () => ({
    system: { currentTime: new Date(), hostname: '127.0.0.1', cpuAddrSize: 64, numCores: 1 },
    os: { type: process.platform, name: process.platform },
    extra: {},
    ok: 1,
  }),
  getParameter: () => ({ featureCompatibilityVersion: { version: '7.0' }, ok: 1 }),
  getCmdLineOpts: () => ({ argv: ['tsunagu-store'], parsed: {}, ok: 1 }),
  whatsmyuri: () => ({ you: '127.0.0.1', ok: 1 }),
  connectionStatus: () => ({
    authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] },
    ok: 1,
  }),
  getLog: () => ({ totalLinesWritten: 0, log: [], ok: 1 }),
  serverStatus: (_b, ctx) => ({
    host: '127.0.0.1',
    version,
    process: 'tsunagu-store',
    uptime: Math.round((Date.now() - ctx.startedAt.getTime()) / 1000),
    localTime: new Date(),
    ok: 1,
  }),
  listDatabases,
  dbStats,
  endSessions: ok,
  killSessions: ok,
  killAllSessions: ok,
  refreshSessions: ok,
  startSession: () => ({ ok: 1 }),
};
