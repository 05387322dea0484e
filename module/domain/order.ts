// The trusted list's order, the same in the panel (which keeps it as events arrive) and in the daemon (which
// serves the list's first page from memory): what ends soonest first.
import type { Device } from './records';

/**
 * Where a registration stands: active fixed ones by their end, then those without one (a signed-in session, a
 * registration until revoked) newest first, then ended ones, the latest end first.
 */
export function listRank(d: Device): [number, number] {
  if (d.state === 'active') return d.policy !== 'fixed' || d.expiresAt === null ? [1, -d.registeredAt] : [0, d.expiresAt];
  return [2, -(d.endedAt ?? 0)];
}

/** Negative when `a` comes first; ties go to the newer registration (the higher id). */
export function compareListOrder(a: Device, b: Device): number {
  const [ra, ka] = listRank(a);
  const [rb, kb] = listRank(b);
  return ra - rb || ka - kb || b.id - a.id;
}

/** The first `limit` of `devices` in list order, without sorting them all (one pass, a short sorted window). */
export function firstInListOrder(devices: Iterable<Device>, limit: number): Device[] {
  const out: Device[] = [];
  if (limit <= 0) return out;
  for (const d of devices) {
    if (out.length === limit && compareListOrder(d, out[limit - 1]) >= 0) continue;
    let lo = 0;
    let hi = out.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareListOrder(out[mid], d) <= 0) lo = mid + 1;
      else hi = mid;
    }
    out.splice(lo, 0, d);
    if (out.length > limit) out.pop();
  }
  return out;
}
