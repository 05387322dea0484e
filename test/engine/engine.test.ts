// The engine's rules with a stub kernel and a real store: what it books, what it asks of the kernel, and what
// it does when the kernel fails. Fake timers drive expiry on the monotonic clock.
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { Engine, EngineError } from '../../module/engine/engine';
import type { Store } from '../../module/store';
import { AllowEntry } from '../../module/kernel/enforcer';
import { unpackEntry } from '../../module/kernel/packed-entry';
import { Actor, Device } from '../../module/engine/contract';
import { KernelError } from '../../module/kernel/native';
import { CODES } from '../../module/kernel/native-abi';
import { healthy } from '../support/stub-kernel';
import { testEngine, type TestEngine } from '../support/test-engine';

const admin: Actor = { surface: 'cli', name: 'admin' };

describe('engine (stub kernel, real store)', () => {
  let h: TestEngine;
  let store: Store;
  let kernel: TestEngine['kernel'];
  let clock: sinon.SinonFakeTimers;
  let engine: Engine;

  beforeEach(async () => {
    clock = sinon.useFakeTimers({ now: Date.parse('2026-11-25T12:00:00Z'), toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    h = await testEngine({ config: { firewall: { extraLan: ['198.51.100.0/24'] } } });
    ({ store, kernel, engine } = h);
    await engine.enable(admin);
  });
  afterEach(async () => {
    clock.restore();
    await h.dispose();
  });

  it('registers: store first, then a kernel entry whose timeout is the expiry, never 0', async () => {
    const d = await engine.register({ address: '203.0.113.7', source: 'local', expiry: { policy: 'fixed', seconds: 90 } }, admin);
    assert.equal(d.state, 'active');
    assert.equal((await store.getDevice(d.id))?.state, 'active');
    const [entries] = kernel.allow.lastCall.args;
    assert.equal(entries[0].timeout, 90);
    assert.deepEqual(Array.from(entries[0].bytes), [203, 0, 113, 7]);
  });

  it('a renewal of an active address from the same surface keeps one device and replaces its expiry', async () => {
    const a = await engine.register({ address: '203.0.113.7', source: 'local', expiry: { policy: 'fixed', seconds: 600 } }, admin);
    const b = await engine.register({ address: '203.0.113.7', source: 'local', expiry: { policy: 'fixed', seconds: 120 } }, admin);
    assert.equal(b.id, a.id);
    assert.equal((await engine.list()).length, 1);
    assert.equal(kernel.allow.lastCall.args[0][0].timeout, 120);
  });

  it('the portal cannot take what the admin gave: its registration is a row of its own, and ending it leaves the local one allowed', async () => {
    const portalUser: Actor = { surface: 'portal', name: 'owner@example.com' };
    const local = await engine.register({ address: '203.0.113.7', source: 'local', expiry: { policy: 'fixed', seconds: 3600 } }, admin);
    const portal = await engine.register({ address: '203.0.113.7', source: 'portal', expiry: { policy: 'session', sessionId: 's-1', leaseSeconds: 180 } }, portalUser);
    assert.notEqual(portal.id, local.id);
    assert.deepEqual((await engine.list()).map(d => [d.id, d.source]), [[local.id, 'local'], [portal.id, 'portal']]);
    assert.equal(kernel.allow.lastCall.args[0][0].timeout, 3600, 'the kernel entry keeps the longer of the two');
    kernel.disallow.resetHistory();
    const ended = await engine.endSession('s-1', portalUser);
    assert.deepEqual(ended.map(d => d.id), [portal.id]);
    assert.equal(kernel.disallow.called, false, 'the address is still the admin\'s: no delete, no cut');
    assert.equal((await store.getDevice(local.id))?.state, 'active');
    assert.equal((await store.getDevice(local.id))?.expiresAt, local.expiresAt);
    // the admin revoking the address ends every registration of it
    await engine.register({ address: '203.0.113.7', source: 'portal', expiry: { policy: 'fixed', seconds: 60 } }, portalUser);
    await engine.revoke('203.0.113.7', admin);
    assert.deepEqual(await engine.list(), []);
    assert.equal(kernel.disallow.callCount, 1);
  });

  it('books an expiry when the monotonic deadline passes, and removes the entry with its flows', async () => {
    const expired: Device[] = [];
    const booked = new Promise<void>(resolve => engine.on('expired', ({ device }) => { expired.push(device); resolve(); }));
    const d = await engine.register({ address: '203.0.113.8', source: 'local', expiry: { policy: 'fixed', seconds: 60 } }, admin);
    await clock.tickAsync(59_000);
    assert.equal(expired.length, 0);
    await clock.tickAsync(1_500);
    await booked; // the store write is real I/O, done in real time
    assert.deepEqual(expired.map(x => x.id), [d.id]);
    assert.equal((await store.getDevice(d.id))?.state, 'expired');
    assert.equal(kernel.disallow.callCount, 1);
  });

  it('a wall-clock jump does not move an expiry (deadlines are monotonic)', async () => {
    const d = await engine.register({ address: '203.0.113.9', source: 'local', expiry: { policy: 'fixed', seconds: 120 } }, admin);
    clock.setSystemTime(Date.now() + 3_600_000); // NTP arrives: the wall clock leaps an hour
    await clock.tickAsync(60_000);
    assert.equal((await store.getDevice(d.id))?.state, 'active');
    const booked = new Promise(resolve => engine.on('expired', resolve));
    await clock.tickAsync(61_000);
    await booked;
    assert.equal((await store.getDevice(d.id))?.state, 'expired');
  });

  it('session: renewals extend the lease, sign-out revokes every device of the session', async () => {
    const s = { policy: 'session' as const, sessionId: 'sess-1', leaseSeconds: 300 };
    await engine.register({ address: '203.0.113.10', source: 'portal', expiry: s }, admin);
    await engine.register({ address: '2001:db8:2::10', source: 'portal', expiry: s }, admin);
    await engine.register({ address: '203.0.113.11', source: 'portal', expiry: { ...s, sessionId: 'other' } }, admin);
    await clock.tickAsync(200_000);
    const renewed = await engine.renewSession('sess-1', 300, { surface: 'portal', name: 'qnap-id' });
    assert.equal(renewed.length, 2);
    const lapsed = new Promise(resolve => engine.on('expired', resolve));
    await clock.tickAsync(200_000); // past the first lease, within the renewed one
    await lapsed;
    assert.equal((await engine.list()).length, 2, 'the renewed session lives, the other lapsed');
    const ended = await engine.endSession('sess-1', { surface: 'portal', name: 'qnap-id' });
    assert.deepEqual(ended.map(x => x.state), ['revoked', 'revoked']);
    assert.equal((await engine.list()).length, 0);
  });

  it('revoke names what is wrong: unknown id, unknown address, already revoked', async () => {
    await assert.rejects(engine.revoke(42, admin), (e: EngineError) => e.code === 'not_found' && /no device 42/.test(e.message));
    await assert.rejects(engine.revoke('198.51.100.77', admin), (e: EngineError) => e.code === 'not_found');
    const d = await engine.register({ address: '203.0.113.12', source: 'local', expiry: { policy: 'fixed', seconds: 60 } }, admin);
    await engine.revoke(d.id, admin);
    await assert.rejects(engine.revoke(d.id, admin), (e: EngineError) => e.code === 'conflict' && /already revoked/.test(e.message));
  });

  it('refuses to enable with a sentence naming what the kernel lacks', async () => {
    await engine.disable(admin);
    kernel.install.rejects(new KernelError('create set sipa4_allow: protocol not supported', CODES.EPROTONOSUPPORT, 'no'));
    await assert.rejects(engine.enable(admin), (e: EngineError) => e.code === 'kernel_unsupported' && /ip_set/.test(e.message));
    assert.equal((await engine.status()).enabled, false);
  });

  it('starts without enforcing when the kernel refuses at start, and enforces once the reconciler succeeds', async () => {
    kernel.install.rejects(new KernelError('create set sipa4_allow: protocol not supported', CODES.EPROTONOSUPPORT, 'no'));
    engine = await h.restart();
    let s = await engine.status();
    assert.deepEqual([s.enabled, s.enforcing], [true, false]);
    await assert.rejects(engine.reconcile(), /ip_set/);
    kernel.install.resolves();
    kernel.check.resolves(healthy({ ok: false, problems: ['set sipa4_allow is missing'], damaged: true }));
    assert.deepEqual(await engine.reconcile(), ['enforcement has not started yet', 'set sipa4_allow is missing']);
    s = await engine.status();
    assert.deepEqual([s.enabled, s.enforcing], [true, true]);
  });

  it('a kernel refusal of one entry keeps the registration and says the reconciler retries', async () => {
    kernel.allow.returns([{ index: 0, entry: {} as never, code: 4352, reason: 'the set is full (maxelem reached)' }]);
    await assert.rejects(
      engine.register({ address: '203.0.113.13', source: 'local', expiry: { policy: 'fixed', seconds: 60 } }, admin),
      (e: EngineError) => e.code === 'kernel_failed' && /set is full/.test(e.message));
    assert.equal((await engine.list()).length, 1);
  });

  it('the reconciler puts back an entry the kernel lost, with its remaining time, and announces it', async () => {
    await engine.register({ address: '203.0.113.14', source: 'local', expiry: { policy: 'fixed', seconds: 60 } }, admin);
    const repaired: string[] = [];
    engine.on('repaired', ({ what }) => repaired.push(what));
    kernel.check.callsFake(async (_plan, wanted) => {
      const missing: AllowEntry[] = [];
      wanted!.allowed((a, timeout) => missing.push({ ...unpackEntry(a), timeout }));
      return healthy({ ok: false, problems: ['IPv4 allow set lacks 1 registered entry: 203.0.113.14'], members: { extra: [], missing, lanDiffers: false, lanIntruders: [] } });
    });
    const problems = await engine.reconcile();
    assert.match(problems.join(), /lacks 1 registered entry/);
    const wanted = kernel.check.lastCall.args[1]!;
    assert.deepEqual(wanted.lan.map(n => n.text), ['198.51.100.0/24']);
    const [put] = kernel.allow.lastCall.args[0];
    assert.deepEqual([Array.from(put.bytes), put.timeout], [[203, 0, 113, 14], 60]);
    assert.equal(kernel.replaceAllowed.callCount, 1, 'only the enable loaded the whole set');
    assert.equal(repaired.length, 1);
    kernel.check.resolves(healthy());
    assert.deepEqual(await engine.reconcile(), []);
  });

  it('a revoke the kernel fails still ends the device and tells listeners; the reconciler takes it out and cuts it', async () => {
    const d = await engine.register({ address: '203.0.113.16', source: 'local', expiry: { policy: 'fixed', seconds: 600 } }, admin);
    const revoked: number[] = [];
    engine.on('revoked', ({ device }) => revoked.push(device.id));
    kernel.disallow.onFirstCall().throws(new KernelError('batch on set sipa4_allow: netlink buffer overrun', CODES.ENOBUFS, 'no'));
    const ended = await engine.revoke(d.id, admin);
    assert.equal(ended.state, 'revoked');
    assert.deepEqual(revoked, [d.id], 'the panel and the portal hear of it');
    kernel.check.resolves(healthy());
    const problems = await engine.reconcile();
    assert.match(problems.join(), /1 ended entries still to take out/);
    const retry = kernel.disallow.lastCall.args[0];
    assert.deepEqual(retry.map(n => Array.from(n.bytes)), [[203, 0, 113, 16]], 'the flows are cut on the retry');
    assert.deepEqual(await engine.reconcile(), []);
  });

  it('the portal ends and renews only the devices it registered; a local device with the same session id stays', async () => {
    const portal = { surface: 'portal' as const, name: 'owner@example.com' };
    const s = { policy: 'session' as const, sessionId: 'shared', leaseSeconds: 300 };
    await engine.register({ address: '203.0.113.17', source: 'portal', expiry: s }, portal);
    const local = await engine.register({ address: '203.0.113.18', source: 'local', expiry: s }, admin);
    const renewed = await engine.renewSession('shared', 600, portal);
    assert.deepEqual(renewed.map(d => d.address), ['203.0.113.17']);
    const ended = await engine.endSession('shared', portal);
    assert.deepEqual(ended.map(d => d.address), ['203.0.113.17']);
    assert.equal((await store.getDevice(local.id))?.state, 'active');
    assert.equal((await store.getDevice(local.id))?.expiresAt, local.expiresAt, 'not renewed by the portal');
  });

  it('a throwing listener does not stop the others', async () => {
    const seen: number[] = [];
    engine.on('registered', () => { throw new Error('boom'); });
    engine.on('registered', ({ device }) => seen.push(device.id));
    const d = await engine.register({ address: '203.0.113.15', source: 'local', expiry: { policy: 'fixed', seconds: 60 } }, admin);
    assert.deepEqual(seen, [d.id]);
  });

  it('serves the list\'s first page from memory, in the list\'s order, with how many are active (no store read)', async () => {
    for (const [address, seconds] of [['203.0.113.20', 600], ['203.0.113.21', 60], ['203.0.113.22', 300]] as const) {
      await engine.register({ address, source: 'local', expiry: { policy: 'fixed', seconds } }, admin);
    }
    await engine.register({ address: '203.0.113.23', source: 'portal', expiry: { policy: 'session', sessionId: 's', leaseSeconds: 60 } }, admin);
    const ended = await engine.register({ address: '203.0.113.24', source: 'local', expiry: { policy: 'fixed', seconds: 60 } }, admin);
    await engine.revoke(ended.id, admin);
    const reads = (['listDevices', 'devicesInPages', 'activeDevicesInPages', 'getDevice'] as const)
      .map(read => sinon.stub(store, read).throws(new Error(`the first page must not read the store (${read})`)));
    const first = await engine.firstActive(3);
    assert.equal(first.total, 4);
    assert.deepEqual(first.devices.map(d => d.address), ['203.0.113.21', '203.0.113.22', '203.0.113.20'], 'the soonest ends first, the session after');
    assert.deepEqual((await engine.firstActive(10)).devices.map(d => d.address).slice(-1), ['203.0.113.23']);
    for (const r of reads) r.restore();
  });

  it('tells from memory whether an address is let in, as the kernel entries do (every address, an IPv6 one\'s /64)', async () => {
    const d = await engine.register({ address: '203.0.113.30', moreAddresses: ['2001:db8:1:2::7'], source: 'local', expiry: { policy: 'fixed', seconds: 600 } }, admin);
    const reads = (['listDevices', 'devicesInPages', 'activeDevicesInPages', 'getDevice', 'activeRowsOfAddress'] as const)
      .map(read => sinon.stub(store, read).throws(new Error(`must not read the store (${read})`)));
    assert.equal(await engine.allows('203.0.113.30'), true);
    assert.equal(await engine.allows('2001:db8:1:2::99'), true, 'its /64 (ipv6Scope "network")');
    assert.equal(await engine.allows('2001:db8:1:3::7'), false);
    assert.equal(await engine.allows('203.0.113.31'), false);
    assert.equal(await engine.allows('not an address'), false);
    for (const r of reads) r.restore();
    await engine.revoke(d.id, admin);
    assert.equal(await engine.allows('203.0.113.30'), false);
  });

  it('loads the configured LAN networks into the kernel on enable', async () => {
    const nets = kernel.setLan.lastCall.args[0];
    assert.deepEqual(nets.map(n => n.text), ['198.51.100.0/24']);
    assert.deepEqual((await engine.status()).lanNetworks, ['198.51.100.0/24']);
  });
});
