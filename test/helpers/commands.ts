import { testStore } from './app.js';

/**
 * The commands the shared embedded store answered while `run` ran, by "<command> <collection>"
 * (handshakes, pings and the change feed's getMores left out). Only on the embedded store: the
 * caller skips its tests when testStore() is null.
 */
export async function commandsDuring(run: () => Promise<unknown>): Promise<Record<string, number>> {
  const store = (await testStore())!;
  const before = store.commandCounts();
  await run();
  const after = store.commandCounts();
  return Object.fromEntries(
    Object.entries(after)
      .map(([key, n]): [string, number] => [key, n - (before[key] ?? 0)])
      .filter(([key, n]) => n > 0 && !/^(hello|ismaster|isMaster|ping|getMore)\b/.test(key)),
  );
}
