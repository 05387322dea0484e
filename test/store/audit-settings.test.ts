import assert from 'node:assert/strict';
import { Store, StoreError } from '../../module/store';
import { admin, fixedDevice, makeTempDir, removeDir, snapshotDir } from './helpers';

describe('store/audit, settings, portal state, wall clock', () => {
  let dir: string;
  let store: Store;
  let clock: number;

  beforeEach(async () => {
    dir = makeTempDir();
    clock = Date.UTC(2025, 5, 1);
    store = (await Store.open({ dataDir: dir, now: () => clock })).store;
  });
  afterEach(async () => {
    await store.close();
    removeDir(dir);
  });

  it('appends audit rows and pages through them newest first', async () => {
    for (let i = 0; i < 5; i++) {
      clock += 1000;
      await store.appendAudit({ actor: admin, action: 'doctor', detail: `run ${i}` });
    }
    const first = await store.listAudit({ limit: 2 });
    assert.deepEqual(first.map((a) => a.detail), ['run 4', 'run 3']);
    const next = await store.listAudit({ limit: 2, beforeId: first[1].id });
    assert.deepEqual(next.map((a) => a.detail), ['run 2', 'run 1']);
    const entry = await store.appendAudit({ actor: { surface: 'system', name: 'sipa' }, action: 'repair', deviceId: null, address: '203.0.113.1' });
    assert.deepEqual(entry, { id: 6, at: clock, surface: 'system', actor: 'sipa', action: 'repair', deviceId: null, address: '203.0.113.1', detail: '' });
    await assert.rejects(store.listAudit({ limit: 0 }), { code: 'invalid_input' });
  });

  it('filters the log on the server: any of actor, surface, action, address, detail; LIKE wildcards are literal; pages go on', async () => {
    const panel = { surface: 'panel' as const, name: 'ana' };
    for (let i = 0; i < 6; i++) {
      clock += 1000;
      await store.appendAudit({ actor: i % 2 ? panel : admin, action: i % 3 ? 'register' : 'revoke', address: `203.0.113.${i}`, detail: i === 4 ? '100% done_here' : `run ${i}` });
    }
    const details = (rows: Array<{ detail: string }>) => rows.map(r => r.detail);
    assert.deepEqual(details(await store.listAudit({ text: 'ANA' })), ['run 5', 'run 3', 'run 1'], 'actor name, ASCII case-insensitive');
    assert.deepEqual(details(await store.listAudit({ text: 'panel' })), ['run 5', 'run 3', 'run 1'], 'surface');
    assert.deepEqual(details(await store.listAudit({ text: 'revoke' })), ['run 3', 'run 0'], 'action');
    assert.deepEqual(details(await store.listAudit({ text: '113.4' })), ['100% done_here'], 'address');
    assert.deepEqual(details(await store.listAudit({ text: '0% d' })), ['100% done_here'], '% is literal');
    assert.deepEqual(details(await store.listAudit({ text: 'e_h' })), ['100% done_here'], '_ is literal');
    assert.deepEqual(details(await store.listAudit({ text: 'n_' })), [], '_ matches no other character');
    const first = await store.listAudit({ text: 'register', limit: 2 });
    assert.deepEqual(details(first), ['run 5', '100% done_here']);
    assert.deepEqual(details(await store.listAudit({ text: 'register', limit: 2, beforeId: first[1].id })), ['run 2', 'run 1']);
  });

  it('stores settings as JSON and writes nothing (not even the audit row) when the value is unchanged', async () => {
    assert.equal(await store.getSetting('enabled'), null);
    assert.equal(await store.setSetting('enabled', true, { actor: admin, action: 'enable' }), true);
    assert.equal(await store.setSetting('binding', { nasId: 'nas-1', portalKey: 'AAAA', at: clock }), true);
    assert.equal(await store.getSetting<boolean>('enabled'), true);
    assert.deepEqual(await store.getSetting('binding'), { nasId: 'nas-1', portalKey: 'AAAA', at: clock });
    const before = snapshotDir(dir);
    assert.equal(await store.setSetting('enabled', true, { actor: admin, action: 'enable' }), false);
    assert.deepEqual(snapshotDir(dir), before);
    assert.deepEqual((await store.listAudit()).map((a) => a.action), ['enable']);
    assert.equal(await store.setSetting('enabled', false), true);
    assert.equal(await store.getSetting('enabled'), false);
  });

  it('keeps the portal sequence across restarts and refuses to go back or repeat', async () => {
    assert.equal(await store.getPortalSequence('bind-1'), null);
    await store.setPortalSequence('bind-1', 7);
    await store.setPortalSequence('bind-1', 9);
    await store.setPortalSequence('bind-2', 1);
    await assert.rejects(store.setPortalSequence('bind-1', 9), (err: unknown) => err instanceof StoreError && err.code === 'portal_sequence_backwards');
    await assert.rejects(store.setPortalSequence('bind-1', 3), /not after the last accepted 9/);
    await store.close();
    store = (await Store.open({ dataDir: dir })).store;
    assert.equal(await store.getPortalSequence('bind-1'), 9);
    assert.equal(await store.getPortalSequence('bind-2'), 1);
  });

  it('remembers the newest wall-clock time it saw, even after the clock jumps back', async () => {
    assert.equal(await store.lastSeenWallClock(), null);
    await store.setSetting('enabled', true);
    assert.equal(await store.lastSeenWallClock(), clock);
    const newest = clock;
    clock -= 86_400_000; // NTP not yet synced after a reboot
    await store.registerDevice(fixedDevice('203.0.113.8'), { actor: admin, action: 'register' });
    await store.close();
    store = (await Store.open({ dataDir: dir, now: () => clock })).store;
    assert.equal(await store.lastSeenWallClock(), newest);
  });
});
