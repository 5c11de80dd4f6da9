import { StoreError } from './errors.js';
import { compileDocument, type Matcher } from './filter.js';
import { toNumber, typeRank, isPlainObject, setOwn, type Doc } from './values.js';

/*
 * find projections, the store's own for inclusion, exclusion, `$slice`, `$elemMatch` and the
 * positional `field.$` (MongoDB 4.4+ rules: `$slice` keeps the projection's kind, so alone it
 * returns every field; `$elemMatch` and `.$` are inclusions; an `$elemMatch` field comes after
 * the other included fields). Projections with aggregation expressions are left to mingo
 * (compile() answers null).
 */

interface Node {
  include?: boolean;
  slice?: [number, number | null];
  elemMatch?: (arr: unknown[]) => unknown;
  positional?: boolean;
  children?: Map<string, Node>;
}

export interface CompiledProjection {
  apply(doc: Doc, filter: Doc): Doc;
}

function sliceSpec(v: unknown): [number, number | null] {
  if (typeRank(v) === 3 && v !== null && v !== undefined) return [toNumber(v), null];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeRank(x) === 3)) {
    const [skip, limit] = v.map(toNumber);
    if (limit <= 0)
      throw new StoreError(28724, 'Second argument to $slice must be a positive number');
    return [skip, limit];
  }
  throw new StoreError(
    28667,
    'Invalid $slice syntax. The given syntax did not match the find() syntax because :: Location31273: $slice only supports numbers and [skip, limit] arrays',
  );
}

function sliceArray(arr: unknown[], [a, b]: [number, number | null]): unknown[] {
  if (b === null) return a >= 0 ? arr.slice(0, a) : arr.slice(Math.max(0, arr.length + a));
  const start = a >= 0 ? a : Math.max(0, arr.length + a);
  return arr.slice(start, start + b);
}

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Compiles a projection, or null when it holds expressions this code leaves to mingo. */
export function compileProjection(projection: Doc): CompiledProjection | null {
  const root = new Map<string, Node>();
  let kind: 'include' | 'exclude' | null = null;
  let idOn: boolean | null = null;
  const elemMatches: string[] = [];
  let positionalPath: string[] | null = null;

  const setKind = (want: 'include' | 'exclude', path: string): void => {
    if (kind && kind !== want)
      throw want === 'exclude'
        ? new StoreError(31254, `Cannot do exclusion on field ${path} in inclusion projection`)
        : new StoreError(31253, `Cannot do inclusion on field ${path} in exclusion projection`);
    kind = want;
  };
  const nodeAt = (parts: string[]): Node => {
    let map = root;
    let node: Node | undefined;
    for (let i = 0; i < parts.length; i++) {
      node = map.get(parts[i]);
      if (node && i < parts.length - 1 && !node.children)
        throw new StoreError(31250, `Path collision at ${parts.join('.')}`);
      if (!node) {
        node = {};
        map.set(parts[i], node);
      }
      if (i < parts.length - 1) map = node.children ??= new Map<string, Node>();
    }
    if (node!.children || node!.include !== undefined || node!.slice || node!.elemMatch)
      throw new StoreError(31250, `Path collision at ${parts.join('.')}`);
    return node!;
  };

  for (const key of Object.keys(projection)) {
    const v = projection[key];
    if (key === '' || key.startsWith('$')) return null;
    let parts = key.split('.');
    if (isPlainObject(v)) {
      const ops = Object.keys(v);
      if (ops.length === 1 && ops[0] === '$slice') {
        nodeAt(parts).slice = sliceSpec(v.$slice);
        continue;
      }
      if (ops.length === 1 && ops[0] === '$elemMatch') {
        if (parts.length > 1)
          throw new StoreError(2, 'Cannot use $elemMatch projection on a nested field.');
        if (!isPlainObject(v.$elemMatch)) throw new StoreError(2, 'elemMatch: Invalid argument');
        setKind('include', key);
        const m: Matcher = compileDocument({ [key]: { $elemMatch: v.$elemMatch } });
        nodeAt(parts).elemMatch = (arr) => arr.find((el) => m({ [key]: [el] }));
        elemMatches.push(key);
        continue;
      }
      return null; // an expression: mingo
    }
    const on = v === true || (typeRank(v) === 3 && v !== null && toNumber(v) !== 0);
    const off = v === false || (typeRank(v) === 3 && v !== null && toNumber(v) === 0);
    if (!on && !off) return null; // a literal or expression: mingo
    if (parts[parts.length - 1] === '$') {
      if (!on) throw new StoreError(31395, `positional projection cannot be used with exclusion`);
      if (positionalPath)
        throw new StoreError(
          31276,
          'Cannot specify more than one positional projection per query.',
        );
      parts = parts.slice(0, -1);
      positionalPath = parts;
      setKind('include', key);
      nodeAt(parts).positional = true;
      continue;
    }
    if (key === '_id') {
      idOn = on;
      continue;
    }
    setKind(on ? 'include' : 'exclude', key);
    nodeAt(parts).include = on;
  }
  if (kind === null) kind = idOn === true && root.size === 0 ? 'include' : 'exclude';
  if (!root.has('_id')) {
    if (kind === 'include' && idOn !== false) root.set('_id', { include: true });
    if (kind === 'exclude' && idOn === false) root.set('_id', { include: false });
  }
  const inclusion = kind === 'include';
  const elemSet = new Set(elemMatches);
  const posPath: string[] | null = positionalPath;

  return {
    apply(doc, filter) {
      const positionalAt = posPath ? matchedIndex(doc, posPath, filter) : -1;
      const out = inclusion
        ? include(doc, root, elemSet, 0, posPath, positionalAt)
        : exclude(doc, root);
      for (const key of elemMatches) {
        const node = root.get(key)!;
        const arr = hasOwn(doc, key) ? doc[key] : undefined;
        if (!Array.isArray(arr)) continue;
        const found = node.elemMatch!(arr);
        if (found !== undefined) setOwn(out, key, [found]);
      }
      return out;
    },
  };
}

function include(
  doc: Doc,
  tree: Map<string, Node>,
  skip: Set<string>,
  depth: number,
  posPath: string[] | null,
  positionalAt: number,
): Doc {
  const out: Doc = {};
  for (const key of Object.keys(doc)) {
    const node = tree.get(key);
    if (!node || (depth === 0 && skip.has(key))) continue;
    const value = doc[key];
    if (node.include === false) continue;
    if (node.positional && posPath) {
      if (Array.isArray(value)) setOwn(out, key, [value[positionalAt]]);
      continue;
    }
    if (node.slice) {
      setOwn(out, key, Array.isArray(value) ? sliceArray(value, node.slice) : value);
      continue;
    }
    if (node.children) {
      const sub = node.children;
      const nextPos = posPath && posPath[depth] === key ? posPath : null;
      if (isPlainObject(value))
        setOwn(out, key, include(value, sub, skip, depth + 1, nextPos, positionalAt));
      else if (Array.isArray(value)) {
        setOwn(
          out,
          key,
          value
            .filter((el) => isPlainObject(el))
            .map((el) => include(el, sub, skip, depth + 1, nextPos, positionalAt)),
        );
      }
      continue;
    }
    if (node.include) setOwn(out, key, value);
  }
  return out;
}

function exclude(doc: Doc, tree: Map<string, Node>): Doc {
  const out: Doc = {};
  for (const key of Object.keys(doc)) {
    const node = tree.get(key);
    const value = doc[key];
    if (!node) {
      setOwn(out, key, value);
      continue;
    }
    if (node.include === false) continue;
    if (node.slice) {
      setOwn(out, key, Array.isArray(value) ? sliceArray(value, node.slice) : value);
      continue;
    }
    if (node.children) {
      const sub = node.children;
      if (isPlainObject(value)) setOwn(out, key, exclude(value, sub));
      else if (Array.isArray(value))
        setOwn(
          out,
          key,
          (value as unknown[]).map((el) => (isPlainObject(el) ? exclude(el, sub) : el)),
        );
      else setOwn(out, key, value);
      continue;
    }
    setOwn(out, key, value);
  }
  return out;
}

/** The element the query matched in the array at `path` (the positional projection). */
function matchedIndex(doc: Doc, path: string[], filter: Doc): number {
  let arr: unknown = doc;
  for (const p of path) arr = isPlainObject(arr) && hasOwn(arr, p) ? arr[p] : undefined;
  const prefix = path.join('.');
  const conds: Doc[] = [];
  for (const key of Object.keys(filter)) {
    if (key === prefix || key.startsWith(prefix + '.')) conds.push({ [key]: filter[key] });
  }
  if (Array.isArray(arr) && conds.length > 0) {
    const m = compileDocument({ $and: conds });
    for (let i = 0; i < arr.length; i++) {
      const probe = setAt(doc, path, [arr[i]]);
      if (m(probe)) return i;
    }
  }
  throw new StoreError(
    51246,
    "Executor error during find command :: caused by :: positional operator '.$' couldn't find a matching element in the array",
  );
}

function setAt(doc: Doc, path: string[], value: unknown): Doc {
  const copy: Doc = { ...doc };
  if (path.length === 1) setOwn(copy, path[0], value);
  else setOwn(copy, path[0], setAt((doc[path[0]] ?? {}) as Doc, path.slice(1), value));
  return copy;
}
