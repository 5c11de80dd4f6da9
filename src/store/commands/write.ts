import { ObjectId, calculateObjectSize, type Document } from 'bson';
import type { WriteTx } from '../engine.js';
import { StoreError, toStoreError } from '../errors.js';
import { compileFilter } from '../matcher.js';
import { runQuery } from '../planner.js';
import {
  applyUpdate,
  buildUpsert,
  isOperatorUpdate,
  isPipelineUpdate,
  validateUpdate,
} from '../update.js';
import { isPlainObject, setOwn, type Doc } from '../values.js';
import { parseSort } from '../paths.js';
import {
  checkedCollection,
  optionalDoc,
  refuseCollation,
  type CommandContext,
  type Handler,
} from './context.js';
import { project } from './read.js';

function withId(doc: Doc): Doc {
  if (doc._id !== undefined) {
    if (Array.isArray(doc._id)) throw new StoreError(2, "can't use an array for _id");
    if (Object.keys(doc)[0] === '_id') return doc;
    // MongoDB stores _id as the first field.
    const out: Doc = { _id: doc._id };
    for (const k of Object.keys(doc)) if (k !== '_id') setOwn(out, k, doc[k]);
    return out;
  }
  return { _id: new ObjectId(), ...doc };
}

const maxDocumentBytes = 16 * 1024 * 1024;

/** MongoDB's 16 MiB document limit, with the code each kind of write answers. */
function checkSize(doc: Doc, kind: 'insert' | 'update' | 'upsert'): Doc {
  const size = calculateObjectSize(doc);
  if (size <= maxDocumentBytes) return doc;
  if (kind === 'insert')
    throw new StoreError(
      10334,
      `object to insert too large. size in bytes: ${size}, max size: ${maxDocumentBytes}`,
    );
  if (kind === 'update')
    throw new StoreError(
      17419,
      `Resulting document after update is larger than ${maxDocumentBytes}`,
    );
  throw new StoreError(17420, `Document to upsert is larger than ${maxDocumentBytes}`);
}

/**
 * Runs a write command's transaction; its reply carries, like a replica set's, the operationTime
 * of the state the write left (see Engine.writeAt): the read caches keep a document a write
 * returned (findAndModify's new document) until a later change.
 */
async function writeWithTime(
  ctx: CommandContext,
  fn: (tx: WriteTx) => Document,
): Promise<Document> {
  const { result, at } = await ctx.engine.writeAt(fn);
  return { ...result, operationTime: at };
}

function writeReply(n: number, writeErrors: Document[], extra: Document = {}): Document {
  const reply: Document = { n, ...extra };
  if (writeErrors.length) reply.writeErrors = writeErrors;
  reply.ok = 1;
  return reply;
}

function statements(body: Document, field: string): Doc[] {
  const list = body[field] as unknown;
  if (!Array.isArray(list))
    throw new StoreError(14, `BSON field '${field}' is missing or not an array`);
  return list as Doc[];
}

/**
 * Runs a batch's statements in order, turning each failure into a write error for its index.
 * An ordered batch stops at its first error; an unordered one goes on (MongoDB's semantics).
 */
function eachStatement(
  list: Doc[],
  ordered: boolean,
  errors: Document[],
  run: (statement: Doc, index: number) => void,
): void {
  for (let i = 0; i < list.length; i++) {
    if (ordered && errors.length) break;
    try {
      run(list[i], i);
    } catch (err) {
      errors.push(toStoreError(err).toWriteError(i));
    }
  }
}

const insert: Handler = async (body, ctx) => {
  const name = checkedCollection(body, 'insert', ctx.db);
  const docs = statements(body, 'documents');
  const ordered = body.ordered !== false;
  const ns = `${ctx.db}.${name}`;
  return writeWithTime(ctx, (tx) => {
    tx.collection(ctx.db, name);
    let n = 0;
    const errors: Document[] = [];
    eachStatement(docs, ordered, errors, (raw) => {
      if (!isPlainObject(raw)) throw new StoreError(2, 'document to insert must be an object');
      tx.apply({ op: 'insert', ns, doc: checkSize(withId(raw), 'insert') });
      n++;
    });
    return writeReply(n, errors);
  });
};

const update: Handler = async (body, ctx) => {
  const name = checkedCollection(body, 'update', ctx.db);
  const list = statements(body, 'updates');
  const ordered = body.ordered !== false;
  const ns = `${ctx.db}.${name}`;
  return writeWithTime(ctx, (tx) => {
    let n = 0;
    let nModified = 0;
    const upserted: Document[] = [];
    const errors: Document[] = [];
    eachStatement(list, ordered, errors, (s, i) => {
      refuseCollation(s.collation);
      const filter = optionalDoc(s.q, 'q');
      const u = s.u;
      validateUpdate(u);
      const multi = s.multi === true;
      const byOperators = isOperatorUpdate(u) || isPipelineUpdate(u);
      if (multi && !byOperators) {
        throw new StoreError(9, 'multi update is not supported for replacement-style update');
      }
      const arrayFilters = Array.isArray(s.arrayFilters) ? (s.arrayFilters as Doc[]) : undefined;
      const matcher = compileFilter(filter);
      const coll = ctx.engine.getCollection(ctx.db, name);
      const found = coll
        ? runQuery(coll, {
            filter,
            matcher,
            sort: parseSort(s.sort),
            limit: multi ? 0 : 1,
            hint: s.hint,
          }).docs
        : [];
      for (const doc of found) {
        n++;
        const next = applyUpdate(doc, u, filter, arrayFilters);
        if (next.modified) {
          tx.apply({ op: 'replace', ns, doc: checkSize(next.doc, 'update') }, byOperators);
          nModified++;
        }
      }
      if (found.length === 0 && s.upsert === true) {
        const doc = checkSize(buildUpsert(filter, u, arrayFilters), 'upsert');
        tx.collection(ctx.db, name);
        tx.apply({ op: 'insert', ns, doc });
        upserted.push({ index: i, _id: doc._id });
        n++;
      }
    });
    const extra: Document = { nModified };
    if (upserted.length) extra.upserted = upserted;
    return writeReply(n, errors, extra);
  });
};

const del: Handler = async (body, ctx) => {
  const name = checkedCollection(body, 'delete', ctx.db);
  const list = statements(body, 'deletes');
  const ordered = body.ordered !== false;
  const ns = `${ctx.db}.${name}`;
  return writeWithTime(ctx, (tx) => {
    let n = 0;
    const errors: Document[] = [];
    eachStatement(list, ordered, errors, (s) => {
      refuseCollation(s.collation);
      const filter = optionalDoc(s.q, 'q');
      const matcher = compileFilter(filter);
      const coll = ctx.engine.getCollection(ctx.db, name);
      if (!coll) return;
      const limit = Number(s.limit ?? 0) === 1 ? 1 : 0;
      for (const doc of runQuery(coll, { filter, matcher, sort: [], limit, hint: s.hint }).docs) {
        tx.apply({ op: 'delete', ns, id: doc._id });
        n++;
      }
    });
    return writeReply(n, errors);
  });
};

const findAndModify: Handler = async (body, ctx: CommandContext) => {
  const command = 'findAndModify' in body ? 'findAndModify' : 'findandmodify';
  const name = checkedCollection(body, command, ctx.db);
  const ns = `${ctx.db}.${name}`;
  refuseCollation(body.collation);
  const filter = optionalDoc(body.query, 'query');
  const fields = optionalDoc(body.fields, 'fields');
  const remove = body.remove === true;
  const u = body.update as unknown;
  if (remove && u !== undefined)
    throw new StoreError(9, 'Cannot specify both an update and remove=true');
  if (!remove && u === undefined)
    throw new StoreError(9, 'Either an update or remove=true must be specified');
  if (remove && body.upsert === true)
    throw new StoreError(9, 'Cannot specify both upsert=true and remove=true');
  if (!remove) validateUpdate(u);
  const arrayFilters = Array.isArray(body.arrayFilters) ? (body.arrayFilters as Doc[]) : undefined;
  const matcher = compileFilter(filter);
  const sort = parseSort(body.sort);
  const shape = (doc: Doc | null): Doc | null => (doc ? project([doc], fields, filter)[0] : null);
  return writeWithTime(ctx, (tx) => {
    const coll = ctx.engine.getCollection(ctx.db, name);
    const [doc] = coll
      ? runQuery(coll, { filter, matcher, sort, limit: 1, hint: body.hint }).docs
      : [];
    if (remove) {
      if (doc) tx.apply({ op: 'delete', ns, id: doc._id });
      return { lastErrorObject: { n: doc ? 1 : 0 }, value: shape(doc ?? null), ok: 1 };
    }
    const spec = u as Doc | Doc[];
    if (doc) {
      const next = applyUpdate(doc, spec, filter, arrayFilters);
      if (next.modified) {
        tx.apply(
          { op: 'replace', ns, doc: checkSize(next.doc, 'update') },
          isOperatorUpdate(spec) || isPipelineUpdate(spec),
        );
      }
      return {
        lastErrorObject: { n: 1, updatedExisting: true },
        value: shape(body.new === true ? next.doc : doc),
        ok: 1,
      };
    }
    if (body.upsert === true) {
      const created = checkSize(buildUpsert(filter, spec, arrayFilters), 'upsert');
      tx.collection(ctx.db, name);
      tx.apply({ op: 'insert', ns, doc: created });
      return {
        lastErrorObject: { n: 1, updatedExisting: false, upserted: created._id },
        value: body.new === true ? shape(created) : null,
        ok: 1,
      };
    }
    return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
  });
};

export const writeCommands: Record<string, Handler> = {
  insert,
  update,
  delete: del,
  findAndModify,
  findandmodify: findAndModify,
};
