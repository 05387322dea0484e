// A store written before devices had several addresses (schema 3) opens with this build: every row keeps its one
// address, now as a one-address device, and renewing it works as before.
import assert from 'node:assert/strict';
import { Store } from '../../module/store';
import { Database } from '../../module/store/database';
import { MIGRATIONS, SCHEMA_VERSION } from '../../module/store/migrations';
import { admin, fixedDevice, makeTempDir, removeDir } from './helpers';

describe('store/migration: one-address rows become one-address devices', () => {
  let dir: string;
  beforeEach(() => { dir = makeTempDir(); });
  afterEach(() => removeDir(dir));

  it('opens a schema-3 store with its devices and audit intact', async () => {
    const at = Date.UTC(2026, 10, 1);
    const { db } = await Database.open(dir, () => at);
    await db.write(async (tx) => {
      for (const m of MIGRATIONS.filter((x) => x.version <= 3)) {
        for (const statement of m.sql.split(';').map((s) => s.trim()).filter(Boolean)) await tx.run(statement);
        await tx.run(`PRAGMA user_version = ${m.version}`);
      }
      // what the schema-3 build wrote for `sipa register 203.0.113.7 --for 1h` and a portal IPv6 device
      await tx.run(`INSERT INTO devices (address, family, prefix, label, qnap_id, source, policy, session_id, registered_at, expires_at, state)
        VALUES ('203.0.113.7', 4, 32, 'laptop', NULL, 'local', 'fixed', NULL, ?, ?, 'active'),
               ('2001:db8::7', 6, 128, 'phone', 'owner@example.com', 'portal', 'session', 's-1', ?, ?, 'active')`, [at, at + 3_600_000, at, at + 900_000]);
    });
    await db.close();

    const { store } = await Store.open({ dataDir: dir, now: () => at + 1000 });
    try {
      assert.equal((await store.storageInfo()).schemaVersion, SCHEMA_VERSION);
      const devices = await store.listDevices();
      assert.deepEqual(devices.map((d) => [d.id, d.address, d.addresses, d.label, d.source]), [
        [1, '203.0.113.7', ['203.0.113.7'], 'laptop', 'local'],
        [2, '2001:db8::7', ['2001:db8::7'], 'phone', 'portal'],
      ]);
      const renewed = await store.registerDevice(fixedDevice('203.0.113.7', { label: 'laptop', expiresAt: at + 7_200_000, extraAddresses: ['2001:db8::8'] }), { actor: admin, action: 'renew' });
      assert.equal(renewed.id, 1);
      assert.deepEqual(renewed.addresses, ['203.0.113.7', '2001:db8::8']);
      assert.deepEqual((await store.activeRowsOfAddress('2001:db8::8')).map((d) => d.id), [1]);
    } finally {
      await store.close();
    }
  });
});
