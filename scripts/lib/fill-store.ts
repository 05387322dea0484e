// A store with n active IPv6 devices (2001:db8:b::1…), written straight into a fresh file in a few transactions,
// with enforcement on: what a daemon restores at start (bench, churn).
import fs from 'node:fs';
import { Database } from '../../module/store/database';
import { migrate } from '../../module/store/migrations';
import * as devices from '../../module/store/devices';
import * as settings from '../../module/store/settings';

export const benchAddress = (i: number) => `2001:db8:b::${(i + 1).toString(16)}`;

export async function fillStore(dataDir: string, n: number): Promise<void> {
  fs.mkdirSync(dataDir, { recursive: true });
  const { db } = await Database.open(dataDir, Date.now);
  await migrate(db);
  const now = Date.now();
  for (let start = 0; start < Math.max(n, 1); start += 2000) {
    await db.write(async tx => {
      for (let i = start; i < Math.min(n, start + 2000); i++) {
        await devices.registerDevice(tx, { address: benchAddress(i), family: 6, prefix: 128, label: `device ${i}`, qnapId: null, source: 'local', policy: 'fixed', sessionId: null, expiresAt: now + 3_600_000 }, now);
      }
      await settings.putSetting(tx, 'enabled', true);
    });
  }
  await db.close();
}
