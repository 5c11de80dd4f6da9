import { UUID, type Document } from 'bson';
import type { Collection } from '../collection.js';
import { idIndexSpec } from '../collection.js';
import { StoreError, notSupported } from '../errors.js';
import type { IndexSpec } from '../indexes.js';
import { compileFilter } from '../matcher.js';
import { formatValue, isPlainObject, valueKey, type Doc } from '../values.js';
import {
  checkedCollection,
  collectionName,
  refuseCollation,
  type CommandContext,
  type Handler,
} from './context.js';

const uuids = new WeakMap<Collection, UUID>();
function uuidOf(c: Collection): UUID {
  let id = uuids.get(c);
  if (!id) {
    id = new UUID();
    uuids.set(c, id);
  }
  return id;
}

function mustExist(ctx: CommandContext, name: string): Collection {
  const coll = ctx.engine.getCollection(ctx.db, name);
  if (!coll) throw new StoreError(26, `ns does not exist: ${ctx.db}.${name}`);
  return coll;
}

const create: Handler = async (body, ctx) => {
  const name = checkedCollection(body, 'create', ctx.db);
  if (body.capped) throw notSupported('Capped collections');
  if (body.viewOn || body.pipeline) throw notSupported('Views');
  if (body.timeseries) throw notSupported('Time series collections');
  if (body.clusteredIndex) throw notSupported('Clustered collections');
  if (body.validator && Object.keys(body.validator as Doc).length > 0)
    throw notSupported('Collection validators');
  refuseCollation(body.collation);
  await ctx.engine.write((tx) => tx.apply({ op: 'create', ns: `${ctx.db}.${name}`, options: {} }));
  return { ok: 1 };
};

const drop: Handler = async (body, ctx) => {
  const name = collectionName(body, 'drop');
  const coll = ctx.engine.getCollection(ctx.db, name);
  if (!coll) return { ok: 1 };
  const nIndexesWas = coll.indexes.size + 1;
  await ctx.engine.write((tx) => tx.apply({ op: 'drop', ns: coll.ns }));
  return { nIndexesWas, ns: coll.ns, ok: 1 };
};

const dropDatabase: Handler = async (_body, ctx) => {
  if (ctx.engine.dbs.has(ctx.db)) {
    await ctx.engine.write((tx) => tx.apply({ op: 'dropDatabase', db: ctx.db }));
  }
  return { dropped: ctx.db, ok: 1 };
};

const supportedIndexOptions = new Set([
  'key',
  'name',
  'unique',
  'sparse',
  'partialFilterExpression',
  'expireAfterSeconds',
  'background',
  'v',
  'ns',
  'hidden',
]);

function readIndexSpec(raw: unknown): IndexSpec {
  if (!isPlainObject(raw) || !isPlainObject(raw.key) || Object.keys(raw.key).length === 0) {
    throw new StoreError(9, 'Error in specification: the index key must be a non-empty object');
  }
  if (typeof raw.name !== 'string' || !raw.name) {
    throw new StoreError(9, "Error in specification: the field 'name' must be a non-empty string");
  }
  let hashed = 0;
  for (const [field, dir] of Object.entries(raw.key)) {
    if (dir === 'hashed') {
      // A hashed index is an equality index to MongoDB; the store keeps the values themselves.
      if (++hashed > 1)
        throw new StoreError(31303, 'A maximum of one index field is allowed to be hashed');
      if (raw.unique === true)
        throw new StoreError(
          16764,
          'Currently hashed indexes cannot guarantee uniqueness. Use a regular index.',
        );
      continue;
    }
    if (typeof dir === 'string')
      throw new StoreError(
        67,
        `${dir} indexes (on ${field}) are not supported by the embedded store`,
      );
    if (typeof dir !== 'number' && typeof dir !== 'bigint') {
      throw new StoreError(
        67,
        `Values in the index key pattern can only be numbers or strings (field ${field})`,
      );
    }
    if (Number(dir) === 0) throw new StoreError(67, "Values in the index key pattern can't be 0");
  }
  if (raw.collation !== undefined) throw notSupported('collation');
  for (const opt of Object.keys(raw)) {
    if (!supportedIndexOptions.has(opt)) throw notSupported(`The index option '${opt}'`);
  }
  const key: Record<string, number | string> = {};
  for (const [field, dir] of Object.entries(raw.key))
    key[field] = dir === 'hashed' ? 'hashed' : Number(dir) < 0 ? -1 : 1;
  const spec: IndexSpec = { v: 2, key, name: raw.name };
  if (raw.hidden === true) spec.hidden = true;
  if (raw.unique === true) spec.unique = true;
  if (raw.sparse === true) spec.sparse = true;
  if (isPlainObject(raw.partialFilterExpression)) {
    compileFilter(raw.partialFilterExpression);
    spec.partialFilterExpression = raw.partialFilterExpression;
  }
  if (raw.expireAfterSeconds !== undefined)
    spec.expireAfterSeconds = Number(raw.expireAfterSeconds);
  return spec;
}

function sameOptions(a: IndexSpec, b: IndexSpec): boolean {
  const pick = (s: IndexSpec) =>
    valueKey({
      unique: s.unique === true,
      sparse: s.sparse === true,
      partial: s.partialFilterExpression ?? null,
      ttl: s.expireAfterSeconds ?? null,
    });
  return pick(a) === pick(b);
}

const createIndexes: Handler = async (body, ctx) => {
  const name = checkedCollection(body, 'createIndexes', ctx.db);
  if (!Array.isArray(body.indexes) || body.indexes.length === 0) {
    throw new StoreError(9, 'Must specify at least one index to create');
  }
  const specs = (body.indexes as unknown[]).map(readIndexSpec);
  const ns = `${ctx.db}.${name}`;
  return ctx.engine.write((tx) => {
    const createdCollectionAutomatically = !ctx.engine.getCollection(ctx.db, name);
    const coll = tx.collection(ctx.db, name);
    const before = coll.indexes.size + 1;
    let created = 0;
    for (const spec of specs) {
      const existing = coll.indexSpecs();
      const sameName = existing.find((e) => e.name === spec.name);
      const sameKey = existing.find(
        (e) => valueKey(e.key) === valueKey(spec.key) && sameOptions(e, spec),
      );
      if (sameName) {
        if (
          valueKey(sameName.key) === valueKey(spec.key) &&
          (sameName === idIndexSpec || sameOptions(sameName, spec))
        )
          continue;
        throw new StoreError(
          86,
          `An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(sameName)}`,
        );
      }
      if (sameKey)
        throw new StoreError(85, `Index already exists with a different name: ${sameKey.name}`);
      if (valueKey(spec.key) === valueKey(idIndexSpec.key)) continue;
      tx.apply({ op: 'createIndex', ns, spec });
      created++;
    }
    const reply: Document = {
      numIndexesBefore: before,
      numIndexesAfter: before + created,
      createdCollectionAutomatically,
    };
    if (created === 0) reply.note = 'all indexes already exist';
    reply.ok = 1;
    return reply;
  });
};

const listIndexes: Handler = (body, ctx) => {
  const name = collectionName(body, 'listIndexes');
  const coll = mustExist(ctx, name);
  const cursor = isPlainObject(body.cursor) ? body.cursor : {};
  return ctx.cursors.firstBatch(
    coll.ns,
    coll.indexSpecs().map((s) => ({ ...s })),
    Number(cursor.batchSize ?? 0),
  );
};

const dropIndexes: Handler = async (body, ctx) => {
  const command = 'dropIndexes' in body ? 'dropIndexes' : 'deleteIndexes';
  const name = collectionName(body, command);
  const coll = mustExist(ctx, name);
  const nIndexesWas = coll.indexes.size + 1;
  const which = body.index as unknown;
  let names: string[];
  if (which === '*') names = [...coll.indexes.keys()];
  else if (typeof which === 'string') names = [which];
  else if (Array.isArray(which)) names = which.map(String);
  else if (isPlainObject(which)) {
    const found = coll.indexSpecs().find((s) => valueKey(s.key) === valueKey(which));
    if (!found) throw new StoreError(27, `can't find index with key: ${JSON.stringify(which)}`);
    names = [found.name];
  } else throw new StoreError(14, "BSON field 'index' is missing or of the wrong type");
  for (const n of names) {
    if (n === '_id_') throw new StoreError(72, 'cannot drop _id index');
    if (!coll.indexes.has(n)) throw new StoreError(27, `index not found with name [${n}]`);
  }
  await ctx.engine.write((tx) => {
    for (const n of names) tx.apply({ op: 'dropIndex', ns: coll.ns, name: n });
  });
  return { nIndexesWas, ok: 1 };
};

const listCollections: Handler = (body, ctx) => {
  const filter = isPlainObject(body.filter) ? body.filter : {};
  const matcher = compileFilter(filter);
  const nameOnly = body.nameOnly === true;
  const entries = ctx.engine
    .collections(ctx.db)
    .map((c): Doc =>
      nameOnly
        ? { name: c.name, type: 'collection' }
        : {
            name: c.name,
            type: 'collection',
            options: c.options,
            info: { readOnly: false, uuid: uuidOf(c) },
            idIndex: idIndexSpec,
          },
    )
    .filter((e) => matcher(e));
  const cursor = isPlainObject(body.cursor) ? body.cursor : {};
  return ctx.cursors.firstBatch(
    `${ctx.db}.$cmd.listCollections`,
    entries,
    Number(cursor.batchSize ?? 0),
  );
};

/** collMod: hide or unhide an index, or change a TTL index's expireAfterSeconds. */
const collMod: Handler = async (body, ctx) => {
  const name = collectionName(body, 'collMod');
  const coll = mustExist(ctx, name);
  for (const opt of Object.keys(body)) {
    if (
      !['collMod', 'index', '$db', 'lsid', '$clusterTime', 'writeConcern', 'comment'].includes(opt)
    )
      throw notSupported(`collMod option '${opt}'`);
  }
  if (body.index === undefined) return { ok: 1 };
  const change = body.index as unknown;
  if (!isPlainObject(change))
    throw new StoreError(14, "BSON field 'collMod.index' is the wrong type");
  const spec = coll
    .indexSpecs()
    .find((s) =>
      typeof change.name === 'string'
        ? s.name === change.name
        : isPlainObject(change.keyPattern) && valueKey(s.key) === valueKey(change.keyPattern),
    );
  if (!spec || (spec.name === '_id_' && change.hidden !== undefined)) {
    if (spec) throw new StoreError(72, 'cannot modify hidden field of an _id index');
    throw new StoreError(
      27,
      `cannot find index ${formatValue(change.name ?? change.keyPattern)} for ns ${coll.ns}`,
    );
  }
  for (const opt of Object.keys(change)) {
    if (!['name', 'keyPattern', 'hidden', 'expireAfterSeconds'].includes(opt))
      throw notSupported(`collMod index option '${opt}'`);
  }
  const next: IndexSpec = { ...spec };
  const reply: Document = {};
  if (change.hidden !== undefined) {
    reply.hidden_old = spec.hidden === true;
    reply.hidden_new = change.hidden === true;
    if (change.hidden === true) next.hidden = true;
    else delete next.hidden;
  }
  if (change.expireAfterSeconds !== undefined) {
    if (spec.expireAfterSeconds === undefined)
      throw new StoreError(72, 'no expireAfterSeconds field to update');
    reply.expireAfterSeconds_old = spec.expireAfterSeconds;
    reply.expireAfterSeconds_new = Number(change.expireAfterSeconds);
    next.expireAfterSeconds = Number(change.expireAfterSeconds);
  }
  if (valueKey(next) !== valueKey(spec)) {
    await ctx.engine.write((tx) => {
      tx.apply({ op: 'dropIndex', ns: coll.ns, name: spec.name });
      tx.apply({ op: 'createIndex', ns: coll.ns, spec: next });
    });
  }
  return { ...reply, ok: 1 };
};

const collStats: Handler = (body, ctx) => {
  const name = collectionName(body, 'collStats');
  const coll = mustExist(ctx, name);
  return {
    ns: coll.ns,
    count: coll.docs.size,
    nindexes: coll.indexes.size + 1,
    indexSizes: Object.fromEntries(coll.indexSpecs().map((s) => [s.name, 0])),
    ok: 1,
  };
};

export const ddlCommands: Record<string, Handler> = {
  create,
  drop,
  dropDatabase,
  createIndexes,
  listIndexes,
  dropIndexes,
  deleteIndexes: dropIndexes,
  listCollections,
  collStats,
  collMod,
  renameCollection: () => {
    throw notSupported('renameCollection');
  },
};
