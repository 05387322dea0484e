import assert from 'node:assert/strict';
import path from 'node:path';
import sqlite3 from 'sqlite3';
import { Store, StoreError } from '../../module/store';
import { activeDevices, admin, fixedDevice, makeTempDir, portalUser, removeDir, sessionDevice } from './helpers';

describe('store/devices', () => {
  let dir: string;
  let store: Store;
  let clock: number;

  beforeEach(async () => {
    dir = makeTempDir();
    clock = Date.UTC(2025, 0, 1);
    store = (await Store.open({ dataDir: dir, now: () => clock })).store;
  });
  afterEach(async () => {
    await store.close();
    removeDir(dir);
  });

  it('registers a device and returns it exactly as the contract types it, with its audit row', async () => {
    const d = await store.registerDevice(
      fixedDevice('2001:db8::7', { label: 'phone', qnapId: 'owner@example.com', source: 'portal', expiresAt: clock + 600_000 }),
      { actor: portalUser, action: 'register', detail: 'fixed 10m' },
    );
    assert.deepEqual(d, {
      id: 1, address: '2001:db8::7', addresses: ['2001:db8::7'], family: 6, prefix: 128, label: 'phone', qnapId: 'owner@example.com', source: 'portal',
      policy: 'fixed', sessionId: null, registeredAt: clock, expiresAt: clock + 600_000, state: 'active',
      endedAt: null, endedBy: null, endReason: null,
    });
    assert.deepEqual(await store.getDevice(1), d);
    assert.deepEqual(await store.findActiveByAddress('2001:db8::7', 'portal'), d);
    assert.equal(await store.findActiveByAddress('2001:db8::7', 'local'), null);
    assert.deepEqual(await store.listAudit(), [
      { id: 1, at: clock, surface: 'portal', actor: 'owner@example.com', action: 'register', deviceId: 1, address: '2001:db8::7', detail: 'fixed 10m' },
    ]);
  });

  it('renewing an active address from the same source keeps one entry and the same id and updates expiry, label, owner, session', async () => {
    const first = await store.registerDevice(sessionDevice('203.0.113.7', 'sess-0', { expiresAt: clock + 60_000 }), { actor: portalUser, action: 'register' });
    clock += 5_000;
    const renewed = await store.registerDevice(sessionDevice('203.0.113.7', 'sess-1', { label: 'tablet', expiresAt: clock + 900_000 }), {
      actor: portalUser, action: 'renew',
    });
    assert.equal(renewed.id, first.id);
    assert.equal(renewed.registeredAt, first.registeredAt);
    assert.deepEqual(
      { label: renewed.label, qnapId: renewed.qnapId, source: renewed.source, policy: renewed.policy, sessionId: renewed.sessionId, expiresAt: renewed.expiresAt },
      { label: 'tablet', qnapId: 'owner@example.com', source: 'portal', policy: 'session', sessionId: 'sess-1', expiresAt: clock + 900_000 },
    );
    assert.equal((await store.listDevices({ all: true })).length, 1);
    assert.deepEqual((await store.listAudit()).map((a) => [a.action, a.deviceId]), [['renew', first.id], ['register', first.id]]);
  });

  it('a portal registration of an address the admin registered locally is a row of its own; the local row is untouched', async () => {
    const local = await store.registerDevice(fixedDevice('203.0.113.7', { expiresAt: clock + 3_600_000 }), { actor: admin, action: 'register' });
    const portal = await store.registerDevice(sessionDevice('203.0.113.7', 'sess-1', { expiresAt: clock + 900_000 }), { actor: portalUser, action: 'register' });
    assert.notEqual(portal.id, local.id);
    assert.deepEqual(await store.getDevice(local.id), local);
    assert.deepEqual((await store.activeRowsOfAddress('203.0.113.7')).map((d) => [d.id, d.source]), [[local.id, 'local'], [portal.id, 'portal']]);
  });

  it('revokes only active devices, records who, when and why, and a new registration gets a new id', async () => {
    const a = await store.registerDevice(fixedDevice('203.0.113.1'), { actor: admin, action: 'register' });
    const b = await store.registerDevice(fixedDevice('203.0.113.2'), { actor: admin, action: 'register' });
    clock += 1_000;
    const ended = await store.endDevices([a.id, a.id, 999], 'revoked', { at: clock, by: admin, reason: 'lost laptop' });
    assert.deepEqual(ended, [{ ...a, state: 'revoked', endedAt: clock, endedBy: 'cli:admin', endReason: 'lost laptop' }]);
    assert.deepEqual(await store.endDevices([a.id], 'expired', { at: clock, by: admin, reason: 'again' }), []);
    assert.deepEqual(await activeDevices(store), [b]);
    assert.equal((await store.listDevices({ all: true })).length, 2);
    assert.equal(await store.findActiveByAddress('203.0.113.1', 'local'), null);
    const again = await store.registerDevice(fixedDevice('203.0.113.1'), { actor: admin, action: 'register' });
    assert.notEqual(again.id, a.id);
    const audit = await store.listAudit();
    assert.deepEqual(audit.map((x) => [x.action, x.deviceId, x.detail]), [
      ['register', again.id, ''], ['revoke', a.id, 'lost laptop'], ['register', b.id, ''], ['register', a.id, ''],
    ]);
  });

  it('expires with the end time given by the caller (the kernel timeout), not the booking time', async () => {
    const a = await store.registerDevice(fixedDevice('203.0.113.5', { expiresAt: clock + 60_000 }), { actor: admin, action: 'register' });
    clock += 120_000;
    const [e] = await store.endDevices([a.id], 'expired', { at: a.expiresAt as number, by: { surface: 'system', name: 'sipa' }, reason: 'expiry' });
    assert.equal(e.state, 'expired');
    assert.equal(e.endedAt, a.expiresAt);
    assert.equal(e.endedBy, 'system:sipa');
  });

  it('finds and extends the devices of a session, with one audit row per renewal', async () => {
    const a = await store.registerDevice(sessionDevice('203.0.113.20', 's1', { expiresAt: clock + 60_000 }), { actor: portalUser, action: 'register' });
    const b = await store.registerDevice(sessionDevice('2001:db8::20', 's1', { expiresAt: clock + 60_000 }), { actor: portalUser, action: 'register' });
    await store.registerDevice(sessionDevice('203.0.113.21', 's2'), { actor: portalUser, action: 'register' });
    assert.deepEqual((await store.devicesOfSession('s1')).map((d) => d.id), [a.id, b.id]);
    const until = clock + 3_600_000;
    const extended = await store.extendSession('s1', until, { actor: portalUser, action: 'lease-renew' });
    assert.deepEqual(extended.map((d) => [d.id, d.expiresAt]), [[a.id, until], [b.id, until]]);
    const auditCount = (await store.listAudit({ limit: 100 })).length;
    assert.equal(auditCount, 4);
    // Same expiry again: nothing changes, nothing is audited.
    await store.extendSession('s1', until, { actor: portalUser, action: 'lease-renew' });
    assert.equal((await store.listAudit({ limit: 100 })).length, auditCount);
    await store.endDevices([a.id], 'revoked', { at: clock, by: portalUser, reason: 'sign-out' });
    assert.deepEqual((await store.devicesOfSession('s1')).map((d) => d.id), [b.id]);
    assert.deepEqual(await store.extendSession('nobody', until, { actor: portalUser, action: 'lease-renew' }), []);
  });

  it('refuses malformed inputs with invalid_input before touching the file', async () => {
    const cases: Array<[string, Parameters<Store['registerDevice']>[0]]> = [
      ['family', fixedDevice('203.0.113.1', { family: 5 as 4 })],
      ['prefix', fixedDevice('203.0.113.1', { prefix: 33 })],
      ['session id', fixedDevice('203.0.113.1', { policy: 'session', sessionId: null })],
      ['expiry', fixedDevice('203.0.113.1', { expiresAt: Number.NaN })],
      ['expiry', fixedDevice('203.0.113.1', { expiresAt: null })],
      ['until revoked', fixedDevice('203.0.113.1', { policy: 'until-revoked', expiresAt: clock + 1000 })],
      ['address', fixedDevice('')],
    ];
    for (const [what, fields] of cases) {
      await assert.rejects(store.registerDevice(fields, { actor: admin, action: 'register' }), (err: unknown) => {
        assert.ok(err instanceof StoreError, what);
        assert.equal(err.code, 'invalid_input', what);
        return true;
      });
    }
    await assert.rejects(store.endDevices([1.5], 'revoked', { at: clock, by: admin, reason: 'x' }), { code: 'invalid_input' });
    await assert.rejects(store.endDevices([1], 'active' as 'revoked', { at: clock, by: admin, reason: 'x' }), { code: 'invalid_input' });
    assert.deepEqual(await store.listDevices({ all: true }), []);
  });

  it('a row with an unknown state on disk is an error naming the row', async () => {
    const d = await store.registerDevice(fixedDevice('203.0.113.30'), { actor: admin, action: 'register' });
    await store.close();
    await new Promise<void>((resolve, reject) => {
      const db = new sqlite3.Database(path.join(dir, 'sipa.db'), (err) => {
        if (err) return reject(err);
        db.exec(`PRAGMA ignore_check_constraints = ON; UPDATE devices SET state = 'paused' WHERE id = ${d.id}`, (e) =>
          db.close(() => (e ? reject(e) : resolve())),
        );
      });
    });
    const reopened = await Store.open({ dataDir: dir });
    store = reopened.store;
    // A broken row is not a broken file: it is not moved aside, the read names the row.
    assert.equal(reopened.recovered, null);
    await assert.rejects(store.listDevices({ all: true }), (err: unknown) => {
      assert.ok(err instanceof StoreError);
      assert.equal(err.code, 'store_row_invalid');
      assert.match(err.message, new RegExp(`devices row ${d.id}: unknown state "paused"`));
      return true;
    });
  });

  it('keeps a registration until revoked without an expiry, alone and in a batch, until it is revoked', async () => {
    const one = await store.registerDevice(fixedDevice('203.0.113.40', { policy: 'until-revoked', expiresAt: null }), { actor: admin, action: 'register' });
    assert.deepEqual([one.policy, one.expiresAt, one.state], ['until-revoked', null, 'active']);
    const { devices } = await store.registerDevices([fixedDevice('203.0.113.41', { policy: 'until-revoked', expiresAt: null }), fixedDevice('203.0.113.42')], { actor: admin, action: 'register-batch' });
    assert.deepEqual(devices.map((d) => [d.address, d.policy, d.expiresAt === null]), [['203.0.113.41', 'until-revoked', true], ['203.0.113.42', 'fixed', false]]);
    // Renewed as a timed one, it has an end again (and the other way round).
    const timed = await store.registerDevice(fixedDevice('203.0.113.40', { expiresAt: clock + 60_000 }), { actor: admin, action: 'renew' });
    assert.deepEqual([timed.id, timed.policy, timed.expiresAt], [one.id, 'fixed', clock + 60_000]);
    const back = await store.registerDevice(fixedDevice('203.0.113.40', { policy: 'until-revoked', expiresAt: null }), { actor: admin, action: 'renew' });
    assert.deepEqual([back.id, back.policy, back.expiresAt], [one.id, 'until-revoked', null]);
    const [ended] = await store.endDevices([one.id], 'revoked', { at: clock, by: admin, reason: 'gone' });
    assert.deepEqual([ended.state, ended.expiresAt], ['revoked', null]);
    await store.close();
    store = (await Store.open({ dataDir: dir })).store;
    assert.deepEqual((await store.listDevices()).map((d) => [d.address, d.expiresAt]), [['203.0.113.41', null], ['203.0.113.42', devices[1].expiresAt]]);
  });

  it('a timed row without an expiry, or a row until revoked with one, is an error naming the row', async () => {
    const d = await store.registerDevice(fixedDevice('203.0.113.31'), { actor: admin, action: 'register' });
    await store.close();
    await new Promise<void>((resolve, reject) => {
      const db = new sqlite3.Database(path.join(dir, 'sipa.db'), (err) => {
        if (err) return reject(err);
        db.exec(`PRAGMA ignore_check_constraints = ON; UPDATE devices SET expires_at = NULL WHERE id = ${d.id}`, (e) =>
          db.close(() => (e ? reject(e) : resolve())),
        );
      });
    });
    store = (await Store.open({ dataDir: dir })).store;
    await assert.rejects(store.listDevices({ all: true }), new RegExp(`devices row ${d.id}: expires_at is null, not an integer`));
  });

  it('keeps devices across a restart', async () => {
    const d = await store.registerDevice(sessionDevice('198.51.100.4', 's9'), { actor: portalUser, action: 'register' });
    await store.close();
    store = (await Store.open({ dataDir: dir })).store;
    assert.deepEqual(await activeDevices(store), [d]);
  });
});
