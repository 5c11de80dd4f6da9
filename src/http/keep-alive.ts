import type { Server } from 'node:http';

/** How long an idle kept-alive connection stays open (above proxies' 60 s). */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

/**
 * An idle kept-alive connection stays open longer than a proxy's or a load balancer's (nginx,
 * AWS ALB: 60 s), so that the server never closes one just as the proxy reuses it (a 502).
 * Node's default (5 s) loses that race with any client that keeps connections in a pool.
 */
export function keepConnectionsAlive(server: Server): void {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
}
