/**
 * Wraps an async function so that calls made while one is on its way share its promise (the
 * gauges of one /metrics scrape asking for the same figure at the same moment); the first call
 * after it settles starts a new one, so nothing older than the call is ever answered.
 */
export function sharedWhilePending<T>(call: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | null = null;
  return () => {
    pending ??= call().finally(() => {
      pending = null;
    });
    return pending;
  };
}
