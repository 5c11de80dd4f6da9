import type { Request, RequestHandler } from 'express';
import session from 'express-session';
import { MongoStore } from 'connect-mongo';
import { csrfSync } from 'csrf-sync';
import type mongoose from 'mongoose';
import { firstOfReply, type Loaded } from '../cache/document-cache.js';
import { readCaches, type CachedSession } from '../cache/read-caches.js';

/** Idle timeout: a session unused for this long ends (cookie and stored session). */
export const SESSION_IDLE_MINUTES = 60;

export interface SessionOptions {
  secret: string;
  secure: boolean;
  connection: mongoose.Connection;
}

/**
 * Sessions live in the database (collection "sessions"), so any number of app processes can
 * serve the same users. The idle timeout is kept there: each request pushes the stored expiry
 * forward (written at most once a minute, see TOUCH_AFTER_SECONDS), and a session unused for
 * SESSION_IDLE_MINUTES is gone. The cookie is httpOnly, sameSite=lax, secure in production (set
 * only over HTTPS, which behind a proxy means TRUST_PROXY must name it), and lives until the
 * browser closes (no Max-Age): it never outlives the browser on a shared office PC, and it need
 * not be signed and sent again with every response.
 */
export function sessionMiddleware({ secret, secure, connection }: SessionOptions): RequestHandler {
  const ttlSeconds = SESSION_IDLE_MINUTES * 60;
  return session({
    name: 'tsunagu.sid',
    secret,
    resave: false,
    saveUninitialized: false,
    rolling: false,
    // Whether the request came over HTTPS is req.secure, so X-Forwarded-Proto counts only from
    // a proxy TRUST_PROXY names (express-session's `proxy: true` would believe any client).
    proxy: undefined,
    cookie: { httpOnly: true, sameSite: 'lax', secure },
    store: new SessionStore({
      client: connection.getClient(),
      dbName: connection.db!.databaseName,
      collectionName: 'sessions',
      ttl: ttlSeconds,
      touchAfter: TOUCH_AFTER_SECONDS,
      autoRemove: 'native',
    }),
  });
}

/** connect-mongo writes `lastModified` with a touch at most this often (seconds). */
const TOUCH_AFTER_SECONDS = 60;

type Callback = (err?: unknown) => void;

/**
 * connect-mongo's store, with the read every request makes served from the sessions cache when
 * the change feed is live (src/cache), and otherwise sent as one `find` command rather than
 * through a driver cursor: the same filter and the same result as MongoStore#get. It relies on
 * the options used above (sessions stored as JSON strings, no crypto, no transformId).
 *
 * Writes from this process drop the cached session before and after they run; writes from other
 * processes reach the cache through the change feed.
 */
class SessionStore extends MongoStore {
  override get(
    sid: string,
    callback: (err: unknown, session?: session.SessionData | null) => void,
  ): void {
    this.read(sid).then(
      (result) => {
        this.emit('get', sid);
        callback(null, result);
      },
      (error: unknown) => callback(error),
    );
  }

  override set(sid: string, data: session.SessionData, callback: Callback = () => {}): void {
    this.writing(sid, callback, (done) => super.set(sid, data, done));
  }

  override touch(sid: string, data: session.SessionData, callback: Callback = () => {}): void {
    // The same test as MongoStore#touch: within touchAfter it writes nothing.
    const lastModified = (data as { lastModified?: Date }).lastModified?.getTime() ?? 0;
    if (lastModified > 0 && Date.now() - lastModified < TOUCH_AFTER_SECONDS * 1000) {
      callback(null);
      return;
    }
    this.writing(sid, callback, (done) => super.touch(sid, data, done));
  }

  override destroy(sid: string, callback: Callback = () => {}): void {
    this.writing(sid, callback, (done) => super.destroy(sid, done));
  }

  private writing(sid: string, callback: Callback, write: (done: Callback) => void): void {
    const feed = readCaches()?.feed;
    feed?.changingKey('sessions', sid);
    write((err) => {
      feed?.changingKey('sessions', sid);
      callback(err);
    });
  }

  private async read(sid: string): Promise<session.SessionData | null> {
    const cache = readCaches()?.sessions;
    const stored = cache
      ? await cache.get(sid, () => this.fetch(sid))
      : ((await this.fetch(sid))?.value ?? null);
    if (!stored) return null;
    if (stored.expires && stored.expires.getTime() <= Date.now()) {
      cache?.forget(sid);
      return null;
    }
    const result = JSON.parse(stored.json) as session.SessionData & { lastModified?: Date };
    if (stored.lastModified) result.lastModified = stored.lastModified;
    return result;
  }

  private async fetch(sid: string): Promise<Loaded<CachedSession> | null> {
    const collection = await this.collectionP;
    const reply = await collection.db.command({
      find: collection.collectionName,
      filter: {
        _id: sid,
        $or: [{ expires: { $exists: false } }, { expires: { $gt: new Date() } }],
      },
      limit: 1,
      singleBatch: true,
    });
    const { doc, at } = firstOfReply<{
      _id: string;
      session: unknown;
      expires?: Date;
      lastModified?: Date;
    }>(reply);
    if (!doc) return null;
    return {
      id: doc._id,
      at,
      value: {
        json: typeof doc.session === 'string' ? doc.session : JSON.stringify(doc.session),
        expires: doc.expires ?? null,
        lastModified: doc.lastModified ?? null,
      },
    };
  }
}

/** POST routes taking multipart forms; each checks CSRF itself after multer (src/admin/import.routes.ts). */
export const MULTIPART_ROUTES: ReadonlySet<string> = new Set(['/admin/users/import']);

/**
 * POST routes that parse their own, larger bodies (the case-study form, multipart, and its JSON
 * autosave: src/case-studies/upload.ts) and check CSRF themselves right after. The app-wide body
 * parsers and CSRF check skip them.
 */
const OWN_BODY_ROUTES: readonly RegExp[] = [/^\/learn\/[^/]+\/case-study(?:\/draft)?\/?$/];

export function parsesOwnBody(req: { method: string; path: string }): boolean {
  return req.method === 'POST' && OWN_BODY_ROUTES.some((route) => route.test(req.path));
}

/**
 * CSRF protection with the synchronizer-token pattern: the token lives in the session and every
 * state-changing request must send it back as the `_csrf` form field or the `x-csrf-token` header.
 * Routes that take multipart forms run multer first and csrfProtection after it.
 */
export const csrf = csrfSync({
  getTokenFromRequest: (req) => {
    const body = req.body as Record<string, unknown> | undefined;
    const fromBody = body && typeof body._csrf === 'string' ? body._csrf : undefined;
    const fromHeader = req.headers['x-csrf-token'];
    return fromBody ?? (typeof fromHeader === 'string' ? fromHeader : undefined);
  },
  errorConfig: { statusCode: 403, code: 'EBADCSRFTOKEN', message: 'invalid csrf token' },
  // Multipart routes: the body is not parsed yet here, so the route checks the token itself
  // right after multer (csrf.isRequestValid). Only the exact paths listed are skipped.
  skipCsrfProtection: (req) =>
    (req.method === 'POST' && MULTIPART_ROUTES.has(req.path)) || parsesOwnBody(req),
});

/**
 * The CSRF token as views see it (`<%= csrfToken %>`): made and stored in the session only when
 * a view writes it out. A page without a form (the home page, a 404) then stores no session and
 * sets no cookie for an anonymous visitor, so requests without a cookie cost no write. EJS
 * escapes values through String(), which calls toString(); Express copies res.locals into the
 * render options, so a getter would run on every render and cannot be used.
 */
export function csrfTokenForViews(req: Request): { toString(): string; toJSON(): string } {
  const token = () => (req.session ? csrf.generateToken(req) : '');
  return { toString: token, toJSON: token };
}
