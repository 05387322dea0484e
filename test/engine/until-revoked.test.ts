// Registrations until revoked (policy.allowUntilRevoked): refused unless the policy allows them and only from an
// administrator, a permanent kernel entry, never booked as expired, kept across a restart whatever the clock
// says, and taken out (flows cut) only by a revoke. Stub kernel, real store, fake timers.
import assert from 'node:assert/strict';
import path from 'node:path';
import sinon from 'sinon';
import { Engine, EngineError } from '../../module/engine/engine';
import type { Store } from '../../module/store';
import { AllowEntry } from '../../module/kernel/enforcer';
import { unpackEntry } from '../../module/kernel/packed-entry';
import { PERMANENT_TIMEOUT } from '../../module/kernel/native';
import type { Actor } from '../../module/engine/contract';
import { healthy } from '../support/stub-kernel';
import { testEngine, type TestEngine } from '../support/test-engine';

const admin: Actor = { surface: 'cli', name: 'admin' };
const portalUser: Actor = { surface: 'portal', name: 'owner@example.com' };
const FOREVER = { policy: 'until-revoked' as const };
const YEAR_MS = 365 * 86_400_000;

const bytesOf = (e: { bytes: Uint8Array }) => Array.from(e.bytes).join('.');

describe('engine: registrations until revoked (stub kernel, real store)', () => {
  let h: TestEngine;
  let store: Store;
  let kernel: TestEngine['kernel'];
  let clock: sinon.SinonFakeTimers;
  let engine: Engine;

  const startEngine = async (config: Record<string, unknown>, buildTimeMs = 0) => {
    engine = await h.restart({ config, buildTimeMs });
  };
  const allowing = { policy: { allowUntilRevoked: true } };

  beforeEach(async () => {
    clock = sinon.useFakeTimers({ now: Date.parse('2026-11-25T12:00:00Z'), toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    h = await testEngine({ start: false });
    ({ store, kernel, engine } = h);
  });
  afterEach(async () => {
    clock.restore();
    await h.dispose();
  });

  it('is refused where the policy does not allow it (the default), naming policy.allowUntilRevoked; nothing is stored or allowed', async () => {
    await startEngine({});
    await engine.enable(admin);
    assert.equal((await engine.status()).allowUntilRevoked, false);
    await assert.rejects(engine.register({ address: '203.0.113.7', source: 'local', expiry: FOREVER }, admin),
      (e: { code?: string; field?: string; message: string }) => e.code === 'bad_expiry' && e.field === 'expiry.policy' && /policy\.allowUntilRevoked is false/.test(e.message));
    await assert.rejects(engine.registerMany([{ address: '203.0.113.8', source: 'local', expiry: FOREVER }], admin), /policy\.allowUntilRevoked/);
    assert.deepEqual(await engine.list({ all: true }), []);
    assert.equal(kernel.allow.called, false);
  });

  it('is refused for a device that registers itself through the portal, even where the policy allows it', async () => {
    await startEngine(allowing);
    await assert.rejects(engine.register({ address: '203.0.113.7', source: 'portal', expiry: FOREVER }, portalUser),
      (e: EngineError) => e.code === 'conflict' && /only an administrator/.test(e.message));
    assert.deepEqual(await engine.list({ all: true }), []);
  });

  it('gets a permanent kernel entry, is never booked as expired, is wanted permanent by the reconciler, and a revoke takes it out', async () => {
    await startEngine(allowing);
    await engine.enable(admin);
    assert.equal((await engine.status()).allowUntilRevoked, true);
    const d = await engine.register({ address: '203.0.113.7', source: 'local', expiry: FOREVER, label: 'office' }, admin);
    assert.deepEqual([d.policy, d.expiresAt, d.state], ['until-revoked', null, 'active']);
    assert.deepEqual(kernel.allow.lastCall.args[0].map(e => [bytesOf(e), e.timeout]), [['203.0.113.7', PERMANENT_TIMEOUT]]);
    assert.match((await store.listAudit())[0].detail, /^until revoked/);

    const expired: number[] = [];
    engine.on('expired', ({ device }) => expired.push(device.id));
    await clock.tickAsync(2 ** 31); // past the longest timer Node has (~24.8 days), twice over with the next
    await clock.tickAsync(2 ** 31);
    assert.deepEqual(expired, []);
    assert.equal((await store.getDevice(d.id))?.state, 'active');

    let wanted: Array<[string, number]> = [];
    kernel.check.callsFake(async (_plan, w) => {
      wanted = [];
      w!.allowed((a, timeout) => wanted.push([bytesOf(unpackEntry(a)), timeout]));
      return healthy();
    });
    assert.deepEqual(await engine.reconcile(), []);
    assert.deepEqual(wanted, [['203.0.113.7', PERMANENT_TIMEOUT]]);

    await engine.revoke(d.id, admin, 'moved out');
    assert.deepEqual(kernel.disallow.lastCall.args[0].map(bytesOf), ['203.0.113.7'], 'deleted, and its flows cut');
    assert.equal((await store.getDevice(d.id))?.state, 'revoked');
  });

  it('renewed with a period it ends again; a timed device renewed until revoked stops ending', async () => {
    await startEngine(allowing);
    await engine.enable(admin);
    const timed = await engine.register({ address: '203.0.113.9', source: 'local', expiry: { policy: 'fixed', seconds: 120 } }, admin);
    const forever = await engine.register({ address: '203.0.113.9', source: 'local', expiry: FOREVER }, admin);
    assert.equal(forever.id, timed.id);
    assert.equal(kernel.allow.lastCall.args[0][0].timeout, PERMANENT_TIMEOUT);
    await clock.tickAsync(600_000);
    assert.equal((await store.getDevice(timed.id))?.state, 'active', 'its old period passed: it stays');
    await engine.register({ address: '203.0.113.9', source: 'local', expiry: { policy: 'fixed', seconds: 60 } }, admin);
    assert.equal(kernel.allow.lastCall.args[0][0].timeout, 60);
    const booked = new Promise(resolve => engine.on('expired', resolve));
    await clock.tickAsync(61_000);
    await booked;
    assert.equal((await store.getDevice(timed.id))?.state, 'expired');
  });

  it('an entry shared with a timed portal registration stays permanent when the portal one ends, and the portal one is kept to its own end', async () => {
    await startEngine(allowing);
    await engine.enable(admin);
    await engine.register({ address: '203.0.113.10', source: 'local', expiry: FOREVER }, admin);
    const portal = await engine.register({ address: '203.0.113.10', source: 'portal', expiry: { policy: 'session', sessionId: 's-1', leaseSeconds: 180 } }, portalUser);
    assert.equal(kernel.allow.lastCall.args[0][0].timeout, PERMANENT_TIMEOUT, 'the longer of the two: no end');
    kernel.disallow.resetHistory();
    const lapsed = new Promise(resolve => engine.on('expired', resolve));
    await clock.tickAsync(181_000);
    await lapsed;
    assert.equal((await store.getDevice(portal.id))?.state, 'expired');
    assert.equal(kernel.disallow.called, false, 'still the admin\'s: no delete, no cut');
    assert.deepEqual(kernel.allow.lastCall.args[0].map(e => [bytesOf(e), e.timeout]), [['203.0.113.10', PERMANENT_TIMEOUT]]);
  });

  it('a restart keeps it with a permanent entry, even when the clock cannot be trusted (timed ones are revoked then)', async () => {
    await startEngine(allowing);
    await engine.enable(admin);
    const forever = await engine.register({ address: '203.0.113.11', source: 'local', expiry: FOREVER }, admin);
    const timed = await engine.register({ address: '203.0.113.12', source: 'local', expiry: { policy: 'fixed', seconds: 3600 } }, admin);
    await engine.stop();
    // The kernel still holds both: the permanent one is listed with timeout 0.
    kernel.listAllowed.returns([
      { family: 4, bytes: Uint8Array.from([203, 0, 113, 11]), prefix: 32, timeout: 0 },
      { family: 4, bytes: Uint8Array.from([203, 0, 113, 12]), prefix: 32, timeout: 3500 },
    ]);
    kernel.installed.returns(true);
    kernel.replaceAllowed.resetHistory();
    await startEngine(allowing, Date.now() + 10 * YEAR_MS); // a build from the future: the clock is not trusted
    const s = await engine.status();
    assert.equal(s.clockTrusted, false);
    const loaded = kernel.replaceAllowed.lastCall.args[0] as AllowEntry[];
    assert.deepEqual(loaded.map(e => [bytesOf(e), e.timeout]).sort(), [['203.0.113.11', PERMANENT_TIMEOUT], ['203.0.113.12', 3500]]);
    assert.equal((await store.getDevice(forever.id))?.state, 'active');
    assert.equal((await store.getDevice(timed.id))?.state, 'active', 'the kernel vouched for the timed one');
  });

  it('a store recovered from the kernel takes a permanent entry back as a registration until revoked', async () => {
    kernel.listAllowed.returns([{ family: 4, bytes: Uint8Array.from([203, 0, 113, 13]), prefix: 32, timeout: 0 }]);
    kernel.installed.returns(true);
    engine = await h.restart({ config: allowing, recovered: { movedTo: path.join(h.dir, 'sipa.db.corrupt-x'), reason: 'test' } });
    const [d] = await engine.list();
    assert.deepEqual([d.address, d.policy, d.expiresAt, d.label], ['203.0.113.13', 'until-revoked', null, 'recovered from the firewall']);
    assert.deepEqual((kernel.replaceAllowed.lastCall.args[0] as AllowEntry[]).map(e => e.timeout), [PERMANENT_TIMEOUT]);
  });
});
