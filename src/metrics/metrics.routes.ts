import { createHash, timingSafeEqual } from 'node:crypto';
import { Router, type Request } from 'express';
import type { TrustProxy } from '../config.js';
import { metricsRegistry } from './registry.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Compares the bearer token with METRICS_TOKEN in constant time (both hashed to 32 bytes). */
function tokenMatches(header: string, token: string | undefined): boolean {
  const match = /^Bearer +(\S+) *$/i.exec(header);
  if (!token || !match) return false;
  return timingSafeEqual(digest(match[1]), digest(token));
}

/**
 * A direct connection from this machine: the socket's address is loopback, no proxy is declared
 * (TRUST_PROXY unset) and the request carries no forwarding header. Behind a proxy on the same
 * machine every request arrives from loopback, so then only the token opens /metrics.
 */
function fromLoopbackDirectly(req: Request, trustProxy: TrustProxy): boolean {
  if (trustProxy !== false) return false;
  const headers = req.headers;
  if (headers['x-forwarded-for'] !== undefined || headers.forwarded !== undefined) return false;
  if (headers['x-real-ip'] !== undefined) return false;
  return LOOPBACK.has(req.socket.remoteAddress ?? '');
}

/**
 * GET /metrics (Prometheus text format): with `Authorization: Bearer <METRICS_TOKEN>`, or from
 * loopback directly (see above). No credentials: 401; wrong ones: 403.
 */
export function metricsRouter({
  token,
  trustProxy,
}: {
  token: string | undefined;
  trustProxy: TrustProxy;
}): Router {
  const router = Router();
  router.get('/', async (req, res) => {
    const authorization = req.headers.authorization;
    if (authorization !== undefined) {
      if (!tokenMatches(authorization, token)) {
        res.status(403).type('text/plain').send('forbidden\n');
        return;
      }
    } else if (!fromLoopbackDirectly(req, trustProxy)) {
      res.status(401).set('www-authenticate', 'Bearer realm="metrics"');
      res.type('text/plain').send('unauthorized\n');
      return;
    }
    const body = await metricsRegistry.metrics();
    res.status(200).type(metricsRegistry.contentType).send(body);
  });
  return router;
}
