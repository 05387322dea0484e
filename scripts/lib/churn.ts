// Churn as a busy NAS sees it: registrations and revocations at a steady pace, through the daemon's socket as
// the CLI sends them (module/cli/client.ts). Used by the bench (a minute) and scripts/churn.ts (an hour).
import fs from 'node:fs';
import { apiRequest } from '../../module/cli/client';
import { sleep } from './wait';

/** Resident and anonymous MiB of a process (/proc/PID/status). */
export function memoryOf(pid: number): { rss: number; anon: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024 };
}

/**
 * `perSecond` register+revoke pairs a second for `seconds` (addresses from 203.0.113.0/24, each revoked right
 * after its registration); `sample` is called about once a minute with the pairs done so far.
 */
export async function churn(socket: string, seconds: number, perSecond: number, sample?: (pairs: number) => void): Promise<number> {
  const t0 = Date.now();
  let pairs = 0;
  let nextSample = t0 + 60_000;
  while (Date.now() - t0 < seconds * 1000) {
    const second = Date.now();
    for (let i = 0; i < perSecond; i++) {
      const address = `203.0.113.${(pairs % 250) + 1}`;
      await apiRequest(socket, 'POST', '/api/v1/devices', { address, label: 'churn', expiry: { policy: 'fixed', seconds: 600 } });
      await apiRequest(socket, 'POST', `/api/v1/devices/${encodeURIComponent(address)}/revoke`, { reason: 'churn' });
      pairs++;
    }
    if (sample && Date.now() >= nextSample) {
      sample(pairs);
      nextSample += 60_000;
    }
    await sleep(Math.max(0, 1000 - (Date.now() - second)));
  }
  return pairs;
}
