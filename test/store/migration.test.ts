// Stores written by earlier builds open with this one: schema 4 (before registrations until revoked) keeps every
// row, id and audit entry; schema 3 (before devices had several addresses) keeps each row's one address, now as a
// one-address device.
import assert from 'node:assert/strict';
import { Store } from '../../module/store';
import { Database } from '../../module/store/database';
import { MIGRATIONS, SCHEMA_VERSION } from '../../module/store/migrations';
import { admin, fixedDevice, makeTempDir, removeDir } from './helpers';

describe('store/migration: stores of earlier schemas open with this build', () => {
  let dir: string;
  beforeEach(() => { dir = makeTempDir(); });
  afterEach(() => removeDir(dir));

  /** What the schema-4 build wrote: devices of every kind, an ended one, one pruned (its id gone). */
  async function schema4Store(at: number): Promise<void> {
    const { db } = await Database.open(dir, () => at);
    await db.write(async (tx) => {
      for (const m of MIGRATIONS.filter((x) => x.version <= 4)) {
        for (const statement of m.sql.split(';').map((s) => s.trim()).filter(Boolean)) await tx.run(statement);
        await tx.run(`PRAGMA user_version = ${m.version}`);
      }
      await tx.run(`INSERT INTO devices (address, family, prefix, label, qnap_id, source, policy, session_id, registered_at, expires_at, state, ended_at, ended_by, end_reason, extra_addresses)
        VALUES ('203.0.113.7', 4, 32, 'laptop', NULL, 'local', 'fixed', NULL, ?, ?, 'active', NULL, NULL, NULL, '2001:db8::7'),
               ('2001:db8::9', 6, 128, 'phone', 'owner@example.com', 'portal', 'session', 's-1', ?, ?, 'active', NULL, NULL, NULL, ''),
               ('198.51.100.4', 4, 32, 'old', NULL, 'local', 'fixed', NULL, ?, ?, 'revoked', ?, 'cli:admin', 'lost', ''),
               ('198.51.100.5', 4, 32, 'pruned', NULL, 'local', 'fixed', NULL, ?, ?, 'expired', ?, 'system:sipa', 'expired', '')`,
      [at, at + 3_600_000, at, at + 900_000, at - 5000, at + 60_000, at - 1000, at - 9000, at - 8000, at - 8000]);
      await tx.run(`DELETE FROM devices WHERE address = '198.51.100.5'`);
      await tx.run(`INSERT INTO actors (surface, name) VALUES ('cli', 'admin')`);
      await tx.run(`INSERT INTO audit (at, actor_id, action, device_id, address, detail) VALUES (?, 1, 'register', 1, '203.0.113.7', 'fixed 3600s')`, [at]);
      // A hand edit made with the checks off: a row no build can read, which the copy must not trip over.
      await tx.run('PRAGMA ignore_check_constraints = ON');
      await tx.run(`INSERT INTO devices (address, family, prefix, label, source, policy, registered_at, expires_at, state)
        VALUES ('192.0.2.9', 4, 32, 'edited', 'local', 'forever', ?, ?, 'active')`, [at, at + 1000]);
      await tx.run('PRAGMA ignore_check_constraints = OFF');
    });
    await db.close();
  }

  it('opens a schema-4 store (devices until revoked need schema 5): rows, ids and audit intact, a broken row set aside', async () => {
    const at = Date.UTC(2026, 10, 1);
    await schema4Store(at);
    const { store } = await Store.open({ dataDir: dir, now: () => at + 1000 });
    try {
      assert.equal((await store.storageInfo()).schemaVersion, SCHEMA_VERSION);
      const all = await store.listDevices({ all: true });
      assert.deepEqual(all.map((d) => [d.id, d.address, d.addresses, d.policy, d.expiresAt, d.state, d.endedBy, d.endReason]), [
        [1, '203.0.113.7', ['203.0.113.7', '2001:db8::7'], 'fixed', at + 3_600_000, 'active', null, null],
        [2, '2001:db8::9', ['2001:db8::9'], 'session', at + 900_000, 'active', null, null],
        [3, '198.51.100.4', ['198.51.100.4'], 'fixed', at + 60_000, 'revoked', 'cli:admin', 'lost'],
      ]);
      const quarantined = await store.listQuarantine();
      assert.equal(quarantined.length, 1);
      assert.equal(quarantined[0].rowId, 5);
      assert.match(quarantined[0].reason, /devices row 5: breaks the table's constraints/);
      assert.equal(JSON.parse(quarantined[0].row).policy, 'forever');
      assert.deepEqual((await store.listAudit()).map((a) => [a.action, a.deviceId, a.detail]), [['register', 1, 'fixed 3600s']]);

      // Ids go on after the highest ever given (4 was pruned, 5 set aside): never one the audit log already names.
      const forever = await store.registerDevice(fixedDevice('203.0.113.70', { policy: 'until-revoked', expiresAt: null }), { actor: admin, action: 'register' });
      assert.equal(forever.id, 6);
      assert.deepEqual([forever.policy, forever.expiresAt, forever.state], ['until-revoked', null, 'active']);
      // The indexes came back: one active row per address and source (a renewal keeps the id).
      const renewed = await store.registerDevice(fixedDevice('203.0.113.7', { expiresAt: at + 7_200_000 }), { actor: admin, action: 'renew' });
      assert.equal(renewed.id, 1);
      assert.deepEqual((await store.devicesOfSession('s-1')).map((d) => d.id), [2]);
    } finally {
      await store.close();
    }
  });

  it('the schema-5 table holds an expiry exactly when the policy is timed', async () => {
    const { db } = await Database.open(dir, () => Date.now());
    try {
      await db.write(async (tx) => {
        for (const m of MIGRATIONS) for (const statement of m.sql.split(';').map((s) => s.trim()).filter(Boolean)) await tx.run(statement);
      });
      const insert = (policy: string, expiresAt: number | null) => db.write((tx) => tx.run(
        `INSERT INTO devices (address, family, prefix, source, policy, registered_at, expires_at, state) VALUES ('203.0.113.1', 4, 32, 'local', ?, 1, ?, 'revoked')`, [policy, expiresAt]));
      await assert.rejects(insert('until-revoked', 5), /CHECK constraint failed/);
      await assert.rejects(insert('fixed', null), /CHECK constraint failed/);
      await assert.rejects(insert('forever', 5), /CHECK constraint failed/);
      await insert('until-revoked', null);
      await insert('fixed', 5);
    } finally {
      await db.close();
    }
  });

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
