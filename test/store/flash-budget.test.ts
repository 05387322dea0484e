import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Pruner, Store } from '../../module/store';
import * as audit from '../../module/store/audit';
import { Database } from '../../module/store/database';
import * as devices from '../../module/store/devices';
import { migrate } from '../../module/store/migrations';
import { activeDevices, admin, fixedDevice, makeTempDir, portalUser, pruneLimits, removeDir, sessionDevice, sleep, snapshotDir, storageBytes, storeFileBytes, writtenBytes } from './helpers';

const MIB = 1024 * 1024;
const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');

/**
 * 1,000 devices (half IPv6 at full length, 40 % ended) and 10,000 audit rows with realistic text, written in a
 * few big transactions: through the public API each row would be its own fsync and take half a minute.
 */
async function fillToBudgetSize(dir: string, start: number): Promise<void> {
  const { db } = await Database.open(dir, () => start);
  await migrate(db);
  let auditRows = 0;
  for (let batch = 0; batch < 10; batch++) {
    await db.write(async (tx) => {
      for (let i = batch * 100; i < batch * 100 + 100; i++) {
        const at = start + i * 60_000;
        const address = i % 2 === 0 ? `203.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}` : `2001:db8:${hex(i, 4)}:${hex(i * 3, 4)}:9abc:def0:${hex(i * 5, 4)}:${hex(i * 11, 4)}`;
        const fields = i % 3 === 0
          ? sessionDevice(address, `sess-${hex(i, 8)}-Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4`, { label: `Phone of user number ${i} (iOS)`, qnapId: `someone.${i}@example.com`, expiresAt: at + 3_600_000 })
          : fixedDevice(address, { label: `Laptop ${i} in the home office`, expiresAt: at + 7_200_000 });
        const { device } = await devices.registerDevice(tx, fields, at);
        await audit.insertAudit(tx, { at, actor: portalUser, action: 'register', deviceId: device.id, address, detail: `${fields.policy}, lease 3600 s` });
        auditRows++;
        if (i % 5 < 2) {
          await devices.endActiveDevices(tx, [device.id], 'revoked', { at: at + 1000, by: { surface: 'panel', name: 'administrator' }, reason: 'revoked from the QuFirewall panel' });
          await audit.insertAudit(tx, { at: at + 1000, actor: { surface: 'panel', name: 'administrator' }, action: 'revoke', deviceId: device.id, address, detail: 'revoked from the QuFirewall panel' });
          auditRows++;
        }
      }
    });
  }
  // The rest of the log as it accrues on a busy box: lease renewals from the portal, expiries, repairs.
  const kinds = [
    (n: number) => ({ actor: { surface: 'portal' as const, name: `someone.${n % 300}@example.com` }, action: 'renew', address: `2001:db8:${hex(n, 4)}::${hex(n * 7, 4)}:1`, detail: 'lease 3600 s' }),
    (n: number) => ({ actor: { surface: 'system' as const, name: 'sipa' }, action: 'expire', address: `203.0.${(n >> 8) & 255}.${n & 255}`, detail: '' }),
    (n: number) => ({ actor: { surface: 'system' as const, name: 'sipa' }, action: 'repair', address: null, detail: `restored jump to SIPA_IN${n % 2 ? 4 : 6}` }),
  ];
  while (auditRows < 10_000) {
    await db.write(async (tx) => {
      for (let k = 0; k < 1000 && auditRows < 10_000; k++, auditRows++) {
        await audit.insertAudit(tx, { at: start + auditRows * 1000, ...kinds[auditRows % kinds.length](auditRows) });
      }
    });
  }
  await db.close();
}

describe('store/flash: size budget, bytes per change, idle', function () {
  this.timeout(30_000);
  let dir: string;
  let store: Store | null = null;
  const start = Date.UTC(2025, 0, 1);

  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(async () => {
    await store?.close();
    store = null;
    removeDir(dir);
  });

  it('1,000 devices + 10,000 audit rows fit in 1 MiB, and stay within it while changes go on', async () => {
    await fillToBudgetSize(dir, start);
    const closedBytes = fs.statSync(path.join(dir, 'sipa.db')).size;
    store = (await Store.open({ dataDir: dir, now: () => start + 20_000_000 })).store;
    assert.equal((await store.listDevices({ all: true })).length, 1000);
    assert.equal((await store.listAudit({ limit: 20_000 })).length, 10_000);
    let peak = storeFileBytes(dir).total;
    const active = await activeDevices(store);
    for (let i = 0; i < 100; i++) {
      await store.registerDevice(fixedDevice(`198.51.100.${i}`), { actor: admin, action: 'register' });
      await store.endDevices([active[i].id], 'revoked', { at: start + 20_000_000, by: admin, reason: 'budget test' });
      peak = Math.max(peak, storeFileBytes(dir).total);
    }
    const pruned = await new Pruner({ store, limits: pruneLimits({ auditMaxRows: 10_000 }), now: () => start + 20_000_000 }).pruneNow();
    peak = Math.max(peak, storeFileBytes(dir).total);
    console.log(`      sipa.db with 1,000 devices + 10,000 audit rows: ${closedBytes} bytes closed (${(closedBytes / 1024).toFixed(0)} KiB); ` +
      `peak db+wal over 200 more changes and a prune of ${pruned.audit} rows: ${peak} bytes (${(peak / 1024).toFixed(0)} KiB); budget ${MIB}`);
    assert.ok(closedBytes <= MIB, `closed file ${closedBytes} > ${MIB}`);
    assert.ok(peak <= MIB, `db + wal peaked at ${peak} > ${MIB}`);
  });

  it('measures bytes written per registration and per revocation', async () => {
    store = (await Store.open({ dataDir: dir })).store;
    const s = store;
    for (let i = 0; i < 200; i++) await s.registerDevice(fixedDevice(`203.0.113.${i}`), { actor: admin, action: 'register' });
    const n = 50;
    let before = writtenBytes();
    const fresh = [];
    for (let i = 0; i < n; i++) fresh.push(await s.registerDevice(fixedDevice(`198.51.100.${i}`), { actor: admin, action: 'register' }));
    const perRegister = (writtenBytes() - before) / n;
    before = writtenBytes();
    for (const d of fresh) await s.endDevices([d.id], 'revoked', { at: Date.now(), by: admin, reason: 'test' });
    const perRevoke = (writtenBytes() - before) / n;
    console.log(`      bytes written (write(2), checkpoints included, averaged over ${n}): register ${perRegister.toFixed(0)}, revoke ${perRevoke.toFixed(0)}`);
    // A handful of 1 KiB pages plus WAL frame headers, and the amortised checkpoint; not tens of KiB.
    assert.ok(perRegister < 16 * 1024, `register wrote ${perRegister} bytes`);
    assert.ok(perRevoke < 16 * 1024, `revoke wrote ${perRevoke} bytes`);
  });

  it('writes nothing while nothing changes: every file in the data dir is unchanged over 3 s idle', async function () {
    this.timeout(10_000);
    store = (await Store.open({ dataDir: dir })).store;
    const d = await store.registerDevice(sessionDevice('203.0.113.77', 's1'), { actor: portalUser, action: 'register' });
    await store.setSetting('enabled', true, { actor: admin, action: 'enable' });
    await store.endDevices([d.id], 'revoked', { at: Date.now(), by: admin, reason: 'x' });
    await store.listDevices({ all: true });
    const pruner = new Pruner({ store, limits: pruneLimits() });
    pruner.start(); // its timer is armed for the night, and must not write while idle
    try {
      const files = snapshotDir(dir);
      const bytes = storageBytes();
      await sleep(3000);
      const idleBytes = storageBytes() - bytes;
      console.log(`      idle 3 s with the store open: ${idleBytes} bytes written; files ${JSON.stringify(files)}`);
      assert.deepEqual(snapshotDir(dir), files);
      assert.equal(idleBytes, 0);
    } finally {
      await pruner.stop();
    }
  });
});
