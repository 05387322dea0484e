import assert from 'node:assert/strict';
import { Pruner, Store } from '../../module/store';
import { admin, fixedDevice, makeTempDir, pruneLimits, removeDir, snapshotDir } from './helpers';

const DAY = 86_400_000;

describe('store/pruner', function () {
  this.timeout(10_000);
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

  it('deletes devices ended more than N days ago, keeps active and recently ended ones', async () => {
    const old = await store.registerDevice(fixedDevice('203.0.113.1'), { actor: admin, action: 'register' });
    const recent = await store.registerDevice(fixedDevice('203.0.113.2'), { actor: admin, action: 'register' });
    const active = await store.registerDevice(fixedDevice('203.0.113.3'), { actor: admin, action: 'register' });
    await store.endDevices([old.id], 'revoked', { at: clock, by: admin, reason: 'x' });
    await store.endDevices([recent.id], 'expired', { at: clock + 25 * DAY, by: admin, reason: 'expiry' });
    clock += 31 * DAY;
    const pruner = new Pruner({ store, limits: pruneLimits({ endedDeviceDays: 30 }), now: () => clock });
    assert.deepEqual(await pruner.pruneNow(), { devices: 1, audit: 0 });
    assert.deepEqual((await store.listDevices({ all: true })).map((d) => d.id), [recent.id, active.id]);
  });

  it('keeps at most the newest auditMaxRows audit rows and none older than auditMaxDays', async () => {
    for (let i = 0; i < 10; i++) {
      clock += DAY;
      await store.appendAudit({ actor: admin, action: 'doctor', detail: `day ${i}` });
    }
    const pruner = new Pruner({ store, limits: pruneLimits({ auditMaxRows: 3, auditMaxDays: 3 }), now: () => clock });
    assert.deepEqual(await pruner.pruneNow(), { devices: 0, audit: 7 });
    assert.deepEqual((await store.listAudit()).map((a) => a.detail), ['day 9', 'day 8', 'day 7']);
    const byCount = new Pruner({ store, limits: pruneLimits({ auditMaxRows: 2, auditMaxDays: 365 }), now: () => clock });
    assert.deepEqual(await byCount.pruneNow(), { devices: 0, audit: 1 });
    assert.deepEqual((await store.listAudit()).map((a) => a.detail), ['day 9', 'day 8']);
  });

  it('drops the oldest audit rows, a tenth at a time, while the pages in use exceed maxDbBytes', async () => {
    for (let i = 0; i < 120; i++) {
      clock += 1000;
      await store.appendAudit({ actor: admin, action: 'note', detail: `${i} `.padEnd(1000, 'x') });
    }
    const limit = 64 * 1024;
    const pruner = new Pruner({ store, limits: pruneLimits(), maxDbBytes: limit, now: () => clock });
    const result = await pruner.pruneNow();
    assert.ok(result.audit > 0);
    const left = await store.listAudit({ limit: 1000 });
    assert.equal(left.length, 120 - result.audit);
    assert.match(left[0].detail, /^119 /, 'the newest rows stay');
    assert.ok(left.length * 1000 < limit, `${left.length} rows of 1000 bytes left`);
  });

  it('writes nothing when there is nothing to delete', async () => {
    const d = await store.registerDevice(fixedDevice('203.0.113.9'), { actor: admin, action: 'register' });
    await store.endDevices([d.id], 'revoked', { at: clock, by: admin, reason: 'x' });
    const before = snapshotDir(dir);
    const pruner = new Pruner({ store, limits: pruneLimits(), now: () => clock });
    assert.deepEqual(await pruner.pruneNow(), { devices: 0, audit: 0 });
    assert.deepEqual(snapshotDir(dir), before);
  });

  it('runs on its cron schedule once started and not after stop', async () => {
    const runs: Array<{ devices: number; audit: number }> = [];
    const errors: unknown[] = [];
    const pruner = new Pruner({ store, limits: pruneLimits({ schedule: '* * * * * *' }), now: () => clock, onPruned: (r) => runs.push(r), onError: (e) => errors.push(e) });
    pruner.start();
    pruner.start(); // idempotent
    const deadline = Date.now() + 2500;
    while (runs.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await pruner.stop();
    assert.ok(runs.length >= 1, 'the job ran');
    assert.deepEqual(errors, []);
    const count = runs.length;
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal(runs.length, count, 'no run after stop');
  });

  it('reports a failed run through onError and keeps its schedule', async () => {
    const errors: unknown[] = [];
    const failing = { prune: () => Promise.reject(new Error('disk full')) };
    const pruner = new Pruner({ store: failing, limits: pruneLimits({ schedule: '* * * * * *' }), onError: (e) => errors.push(e) });
    pruner.start();
    const deadline = Date.now() + 2500;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await pruner.stop();
    assert.match(String(errors[0]), /disk full/);
  });
});
