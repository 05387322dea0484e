import type { Query, Tx } from './database';

// NAS clocks jump (no RTC, late NTP). The newest wall-clock time the service has seen lets a restart notice a
// clock that went backwards. It is stamped only inside transactions that change something anyway, so it
// costs no write of its own.

const KEY = 'last_wall_clock';

export async function stampWallClock(tx: Tx, now: number): Promise<void> {
  await tx.run(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value) WHERE excluded.value > value',
    [KEY, now],
  );
}

/**
 * The stamp; every transaction that writes a time stamps it, so no recorded time is later unless the stamp was
 * reset. Without a stamp (a store from before it existed), the latest recorded time (expiries excluded: they
 * lie in the future by design).
 */
export async function lastSeenWallClock(q: Query): Promise<number | null> {
  const stamp = await q.get<{ value: number }>('SELECT value FROM meta WHERE key = ?', [KEY]);
  if (stamp) return stamp.value;
  const row = await q.get<{ t: number | null }>(
    `SELECT max(
       coalesce((SELECT max(registered_at) FROM devices), 0),
       coalesce((SELECT max(ended_at) FROM devices), 0),
       coalesce((SELECT max(at) FROM audit), 0)
     ) AS t`,
  );
  return row?.t ? row.t : null;
}

/** Makes `now` the reference even when it is behind the stamp (after a start that could not trust the clock). */
export async function resetWallClock(tx: Tx, now: number): Promise<void> {
  await tx.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [KEY, now]);
}
