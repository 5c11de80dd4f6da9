import { calculateObjectSize, Timestamp } from 'bson';
import { eventOf, historyLost, type ChangeEntry, type ChangeHistory } from './changes.js';
import type { Engine } from './engine.js';
import { StoreError, notSupported } from './errors.js';
import { compileFilter, runPipeline, runStreamStages, type Matcher } from './matcher.js';
import { cloneForMingo, isPlainObject, type Doc } from './values.js';

/** Largest total size of events in one batch (as for other cursors). */
const maxBatchBytes = 16 * 1024 * 1024 - 64 * 1024;

/** Stages MongoDB allows after $changeStream. */
const allowedStages = new Set([
  '$match',
  '$project',
  '$addFields',
  '$set',
  '$unset',
  '$replaceRoot',
  '$replaceWith',
  '$redact',
]);

const knownOptions = new Set([
  'fullDocument',
  'fullDocumentBeforeChange',
  'resumeAfter',
  'startAfter',
  'startAtOperationTime',
  'allChangesForCluster',
  'showExpandedEvents',
]);

type Scope =
  | { kind: 'collection'; ns: string }
  | { kind: 'database'; db: string; prefix: string }
  | { kind: 'cluster' };

const internalDbs = ['admin.', 'config.', 'local.'];

/**
 * One change stream: where it stands in the history, what it watches and the stages applied to
 * each event. `take()` returns the next events (possibly none); it never waits — the cursor
 * registry waits for the history between calls.
 */
export class ChangeStream {
  /** Next history position to read. */
  private pos: number;
  /** Cluster time of the position (for the postBatchResumeToken). */
  private t: number;
  private i: number;
  /** startAtOperationTime in the future: entries before it are skipped. */
  private readonly from: Timestamp | null;
  /** Set once an invalidate event was returned: the cursor ends. */
  invalidated = false;
  private invalidateToken: { _data: string } | null = null;

  private constructor(
    readonly history: ChangeHistory,
    private readonly engine: Engine,
    private readonly scope: Scope,
    private readonly lookup: boolean,
    private readonly matchers: Matcher[] | null,
    private readonly stages: Doc[],
    start: { pos: number; t: number; i: number; from: Timestamp | null },
  ) {
    this.pos = start.pos;
    this.t = start.t;
    this.i = start.i;
    this.from = start.from;
  }

  /**
   * Opens a stream from an aggregate's pipeline (whose first stage is $changeStream) sent to
   * `db`, on collection `coll` (null: the whole database). Throws MongoDB's errors.
   */
  static open(engine: Engine, db: string, coll: string | null, pipeline: Doc[]): ChangeStream {
    const spec = pipeline[0].$changeStream;
    if (!isPlainObject(spec)) {
      throw new StoreError(14, 'the $changeStream stage specification must be an object');
    }
    for (const k of Object.keys(spec)) {
      if (!knownOptions.has(k)) {
        throw new StoreError(40415, `BSON field '$changeStream.${k}' is an unknown field.`);
      }
    }
    const fullDocument = spec.fullDocument ?? 'default';
    if (fullDocument === 'whenAvailable' || fullDocument === 'required') {
      throw notSupported(`fullDocument: '${fullDocument}' (post-images)`);
    }
    if (fullDocument !== 'default' && fullDocument !== 'updateLookup') {
      throw new StoreError(
        2,
        `unrecognized value for fullDocument: ${JSON.stringify(fullDocument)}`,
      );
    }
    const before = spec.fullDocumentBeforeChange ?? 'off';
    if (before !== 'off') {
      if (before === 'whenAvailable' || before === 'required') {
        throw notSupported(`fullDocumentBeforeChange: '${before}' (pre-images)`);
      }
      throw new StoreError(
        2,
        `unrecognized value for fullDocumentBeforeChange: ${JSON.stringify(before)}`,
      );
    }
    if (spec.showExpandedEvents === true) throw notSupported('showExpandedEvents');

    let scope: Scope;
    if (spec.allChangesForCluster === true) {
      if (db !== 'admin' || coll !== null) {
        throw new StoreError(
          73,
          "$changeStream may not be opened on the given database: allChangesForCluster requires an aggregate of 1 on the 'admin' database",
        );
      }
      scope = { kind: 'cluster' };
    } else if (coll === null) {
      if (db === 'admin' || db === 'config' || db === 'local') {
        throw new StoreError(73, `$changeStream may not be opened on the internal ${db} database`);
      }
      scope = { kind: 'database', db, prefix: `${db}.` };
    } else {
      if (coll.startsWith('system.')) {
        throw new StoreError(
          73,
          `$changeStream may not be opened on the internal ${db}.${coll} collection`,
        );
      }
      scope = { kind: 'collection', ns: `${db}.${coll}` };
    }

    const stages = pipeline.slice(1);
    for (const stage of stages) {
      const name = isPlainObject(stage) ? Object.keys(stage)[0] : undefined;
      if (name === '$changeStream') {
        throw new StoreError(40602, '$changeStream is only valid as the first stage in a pipeline');
      }
      if (!name || !allowedStages.has(name)) {
        throw new StoreError(20, `${String(name)} is not permitted in a $changeStream pipeline`);
      }
    }
    const matchers = stages.every((s) => s.$match !== undefined)
      ? stages.map((s) => compileFilter(s.$match))
      : null;
    if (!matchers) runPipeline([], stages, () => []); // refuses malformed stages now

    const history = engine.changes;
    const resumes = ['resumeAfter', 'startAfter', 'startAtOperationTime'].filter(
      (k) => spec[k] !== undefined && spec[k] !== null,
    );
    if (spec.resumeAfter != null && spec.startAfter != null) {
      throw new StoreError(
        50865,
        "Do not specify both 'startAfter' and 'resumeAfter' in a change stream",
      );
    }
    if (resumes.length > 1) {
      throw new StoreError(
        40674,
        'Only one type of resume option is allowed, but multiple were found.',
      );
    }
    let start: { pos: number; t: number; i: number; from: Timestamp | null };
    {
      const token = spec.resumeAfter ?? spec.startAfter;
      if (token != null) {
        const parsed = history.parseToken(token);
        if (parsed.invalidate && spec.resumeAfter != null) {
          throw new StoreError(
            260,
            'Attempting to resume a change stream using an invalidate resume token is not allowed; use startAfter instead',
          );
        }
        start = { ...parsed, from: null };
      } else if (spec.startAtOperationTime != null) {
        const ts = spec.startAtOperationTime;
        if (!(ts instanceof Timestamp)) {
          throw new StoreError(
            14,
            "BSON field '$changeStream.startAtOperationTime' is the wrong type, expected type 'timestamp'",
          );
        }
        const pos = history.positionAt(ts);
        if (pos === null)
          throw historyLost('startAtOperationTime is older than the change history');
        start = { pos, t: ts.t, i: ts.i, from: ts };
      } else {
        start = { pos: history.next, t: history.lastT, i: history.lastI, from: null };
      }
    }
    return new ChangeStream(
      history,
      engine,
      scope,
      fullDocument === 'updateLookup',
      matchers,
      stages,
      start,
    );
  }

  /** The token of the position reached (postBatchResumeToken). */
  token(): { _data: string } {
    return this.invalidateToken ?? this.history.token(this.t, this.i, this.pos);
  }

  /** Takes up to `max` next events; throws ChangeStreamHistoryLost if the stream fell behind. */
  take(max: number): Doc[] {
    const out: Doc[] = [];
    if (this.invalidated) return out;
    const history = this.history;
    let bytes = 0;
    while (this.pos < history.next && out.length < max) {
      if (this.pos < history.oldest) {
        throw historyLost('the change stream fell behind the change history');
      }
      const e = history.at(this.pos);
      this.pos++;
      this.t = e.t;
      this.i = e.i;
      if (!this.watches(e)) continue;
      if (this.from && (e.t < this.from.t || (e.t === this.from.t && e.i < this.from.i))) continue;
      const event = this.apply(e);
      if (event) {
        bytes += calculateObjectSize(event);
        out.push(event);
      }
      if (this.invalidates(e)) {
        this.invalidated = true;
        this.invalidateToken = history.token(e.t, e.i, this.pos, true);
        out.push({
          _id: this.invalidateToken,
          operationType: 'invalidate',
          clusterTime: new Timestamp({ t: e.t, i: e.i }),
          wallTime: new Date(e.wall),
        });
        break;
      }
      if (bytes > maxBatchBytes) break;
    }
    return out;
  }

  private watches(e: ChangeEntry): boolean {
    const s = this.scope;
    if (s.kind === 'collection') {
      if (e.op === 'dropDatabase') return false;
      return e.ns === s.ns;
    }
    if (s.kind === 'database')
      return e.op === 'dropDatabase' ? e.ns === s.db : e.ns.startsWith(s.prefix);
    if (e.op === 'dropDatabase') return e.ns !== 'admin' && e.ns !== 'config' && e.ns !== 'local';
    return !internalDbs.some((p) => e.ns.startsWith(p));
  }

  private invalidates(e: ChangeEntry): boolean {
    const s = this.scope;
    if (s.kind === 'collection') return e.op === 'drop' && e.ns === s.ns;
    if (s.kind === 'database') return e.op === 'dropDatabase';
    return false;
  }

  /** The event after the stream's stages; null when they filter it out. */
  private apply(e: ChangeEntry): Doc | null {
    let event = eventOf(this.history, e);
    if (this.lookup && e.op === 'update') {
      const [db, coll] = [e.ns.slice(0, e.ns.indexOf('.')), e.ns.slice(e.ns.indexOf('.') + 1)];
      const current = this.engine.getCollection(db, coll)?.getById((e.doc as Doc)._id) ?? null;
      event = { ...event, fullDocument: current };
    }
    if (this.stages.length === 0) return event;
    if (this.matchers) {
      for (const m of this.matchers) if (!m(event)) return null;
      return event;
    }
    const result = runStreamStages(cloneForMingo(event), this.stages);
    if (!result) return null;
    const id = result._id as { _data?: unknown } | undefined;
    if (!isPlainObject(id) || id._data !== (event._id as { _data: string })._data) {
      throw new StoreError(
        280,
        'Encountered an event whose _id field, which contains the resume token, was modified by the pipeline. Modifying the _id field of an event makes it impossible to resume the stream from that point. Only transformations that retain the unmodified _id field are allowed.',
      );
    }
    return result;
  }
}
