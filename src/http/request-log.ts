import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Logger } from '../lib/logger.js';

declare module 'http' {
  interface IncomingMessage {
    /** This request's id: the caller's x-request-id when well-formed, otherwise a new UUID. */
    id: string;
  }
}

const REQUEST_ID = /^[\w.-]{8,64}$/;

/** Requests not logged when they succeed: health checks, readiness, metrics and static files. */
const quiet = (url: string) =>
  url === '/healthz' || url === '/readyz' || url === '/metrics' || url.startsWith('/public/');

/**
 * One log line per request, written when the response is done: id, method, path (never the query
 * string or the body: they may hold tokens or personal data), status and time. 5xx answers are
 * logged as errors, 4xx as warnings, the rest as info; an answer cut off before its end as a
 * warning. The id is sent back as x-request-id and shown on error pages.
 *
 * This replaces pino-http, whose per-request child logger and serializers cost about a tenth of a
 * signed-in page's server time (see npm run bench:learning).
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.id = id;
    res.setHeader('x-request-id', id);
    const started = performance.now();
    res.once('close', () => {
      const status = res.statusCode;
      const finished = res.writableFinished;
      const level = !finished || status >= 400 ? (status >= 500 ? 'error' : 'warn') : 'info';
      if (level === 'info' && quiet(req.originalUrl)) return;
      if (!logger.isLevelEnabled(level)) return;
      logger[level](
        {
          reqId: id,
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status,
          ms: Math.round((performance.now() - started) * 10) / 10,
        },
        finished ? 'request completed' : 'request aborted',
      );
    });
    next();
  };
}
