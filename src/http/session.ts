import type { RequestHandler } from 'express';
import session from 'express-session';
import { MongoStore } from 'connect-mongo';
import { csrfSync } from 'csrf-sync';
import type mongoose from 'mongoose';

/** Idle timeout: a session unused for this long ends (cookie and stored session). */
export const SESSION_IDLE_MINUTES = 60;

export interface SessionOptions {
  secret: string;
  secure: boolean;
  connection: mongoose.Connection;
}

/**
 * Sessions live in the database (collection "sessions"), so any number of app processes can
 * serve the same users. The cookie is httpOnly, sameSite=lax, secure in production, and rolling:
 * each request pushes the idle timeout forward.
 */
export function sessionMiddleware({ secret, secure, connection }: SessionOptions): RequestHandler {
  const ttlSeconds = SESSION_IDLE_MINUTES * 60;
  return session({
    name: 'tsunagu.sid',
    secret,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    proxy: secure,
    cookie: { httpOnly: true, sameSite: 'lax', secure, maxAge: ttlSeconds * 1000 },
    store: new SessionStore({
      client: connection.getClient(),
      dbName: connection.db!.databaseName,
      collectionName: 'sessions',
      ttl: ttlSeconds,
      touchAfter: 60,
      autoRemove: 'native',
    }),
  });
}

/**
 * connect-mongo's store with a cheaper read, which every request makes: the same filter and the
 * same result as MongoStore#get, sent as one `find` command rather than through a driver cursor.
 * It relies on the options used above (sessions stored as JSON strings, no crypto, no transformId).
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

  private async read(sid: string): Promise<session.SessionData | null> {
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
    const doc = (reply.cursor as { firstBatch?: { session: unknown; lastModified?: Date }[] })
      .firstBatch?.[0];
    if (!doc) return null;
    const result = (
      typeof doc.session === 'string' ? JSON.parse(doc.session) : doc.session
    ) as session.SessionData & { lastModified?: Date };
    if (doc.lastModified) result.lastModified = doc.lastModified;
    return result;
  }
}

/** POST routes taking multipart forms; each checks CSRF itself after multer (src/admin/import.routes.ts). */
export const MULTIPART_ROUTES: ReadonlySet<string> = new Set(['/admin/users/import']);

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
  skipCsrfProtection: (req) => req.method === 'POST' && MULTIPART_ROUTES.has(req.path),
});

/** Makes the CSRF token available to every view as `csrfToken`. */
export const csrfLocals: RequestHandler = (req, res, next) => {
  res.locals.csrfToken = csrf.generateToken(req);
  next();
};
