// Waiting in tests, the demo and the bench: a pause, and polling until something holds.

export const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));

/**
 * Polls `fn` every `paceMs` until it gives a truthy value and returns that value; a throw counts as "not yet".
 * After `ms` it fails with an error naming `what` (and the last error, if any).
 */
export async function until<T>(what: string, fn: () => T | Promise<T>, ms = 5000, paceMs = 20): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Exclude<T, false | null | undefined | 0 | ''>;
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(paceMs);
  }
}
