// How many HTTP connections the API may hold: a quarter of the process's file-descriptor limit, so the rest
// stays for what enforcement needs (the unix socket, the store, netlink, the reconciler's iptables and ip
// children). Node raises its soft RLIMIT_NOFILE to the hard limit when it starts, so the soft limit read here
// is already the most this process can have.
import fs from 'node:fs';

export interface ConnectionCaps {
  /** Open file descriptors this process may have. */
  descriptorLimit: number;
  /** HTTP connections at once, all clients together. */
  overall: number;
  /** HTTP connections at once from one peer address. */
  perClient: number;
}

const FALLBACK_LIMIT = 1024;
const MAX_HTTP = 512;
const MIN_HTTP = 16;

/** The soft "Max open files" of /proc/self/limits; 1024 when it cannot be read. */
export function descriptorLimit(file = '/proc/self/limits'): number {
  try {
    const line = fs.readFileSync(file, 'utf8').split('\n').find(l => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    if (soft === 'unlimited') return Number.MAX_SAFE_INTEGER;
    const n = Number(soft);
    return Number.isInteger(n) && n > 0 ? n : FALLBACK_LIMIT;
  } catch {
    return FALLBACK_LIMIT;
  }
}

export function connectionCaps(limit = descriptorLimit()): ConnectionCaps {
  const overall = Math.max(MIN_HTTP, Math.min(MAX_HTTP, Math.floor(limit / 4)));
  return { descriptorLimit: limit, overall, perClient: Math.max(8, Math.floor(overall / 4)) };
}
