/**
 * Polls `check` until it holds, or throws after `ms`. For changes made behind the app's back
 * (another process, a raw driver write), which reach its caches through the change feed within
 * milliseconds.
 */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  what: string,
  ms = 3_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`not within ${ms} ms: ${what}`);
}
