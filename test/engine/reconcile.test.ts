// The repair the engine makes of what a full check found (stub kernel, real store), and the reconciler's pace:
// a cheap look every 250 ms that starts a full check when it changes, full checks every interval (fake timers).
import assert from 'node:assert/strict';
import sinon from 'sinon';
import { Engine } from '../../module/engine/engine';
import { Reconciler, WATCH_MS } from '../../module/engine/reconciler';
import type { Store } from '../../module/store';
import { Health, MemberDiff, Wanted } from '../../module/kernel/enforcer';
import { unpackEntry } from '../../module/kernel/packed-entry';
import { Actor } from '../../module/engine/contract';
import { testEngine, type TestEngine } from '../support/test-engine';

const admin: Actor = { surface: 'cli', name: 'admin' };
const v4 = (a: string) => ({ family: 4 as const, bytes: Uint8Array.from(a.split('.').map(Number)), prefix: 32 });

function health(problems: string[], members: Partial<MemberDiff> = {}, damaged = false): Health {
  return {
    ok: problems.length === 0, problems, allowed: { 4: 0, 6: 0 }, damaged,
    members: { extra: [], missing: [], lanDiffers: false, lanIntruders: [], ...members },
  };
}

describe('engine: the repair of what a full check found (stub kernel, real store)', () => {
  let h: TestEngine;
  let store: Store;
  let kernel: TestEngine['kernel'];
  let engine: Engine;

  beforeEach(async () => {
    h = await testEngine({
      config: { firewall: { extraLan: ['192.0.2.0/24'] } },
      kernel: { disallow: sinon.stub().returns({ cut: 2, failed: [] }), check: sinon.stub().resolves(health([])), fingerprint: sinon.stub().returns('tables sets') },
    });
    ({ store, kernel, engine } = h);
    await engine.enable(admin);
  });
  afterEach(async () => {
    await h.dispose();
  });

  it('asks the kernel to compare with every active device and the LAN', async () => {
    await engine.register({ address: '203.0.113.20', source: 'local', expiry: { policy: 'fixed', seconds: 600 } }, admin);
    assert.deepEqual(await engine.reconcile(), []);
    const wanted = kernel.check.lastCall.args[1] as Wanted;
    const visited: Array<[number[], number]> = [];
    wanted.allowed((a, timeout) => visited.push([Array.from(unpackEntry(a).bytes), timeout]));
    assert.deepEqual(visited, [[[203, 0, 113, 20], 600]]);
    assert.equal(wanted.allowedCount, 1);
    assert.deepEqual(wanted.lan.map(n => n.text), ['192.0.2.0/24']);
  });

  it('takes out what nobody registered and cuts its flows, reloads the LAN first, and audits it', async () => {
    const repaired: string[] = [];
    engine.on('repaired', ({ what }) => repaired.push(what));
    kernel.check.resolves(health(['IPv4 allow set holds 1 entry nobody registered: 203.0.113.11', 'IPv4 LAN set holds 1 entry not of the LAN: 203.0.113.10'],
      { extra: [v4('203.0.113.11')], lanDiffers: true, lanIntruders: [v4('203.0.113.10')] }));
    const problems = await engine.reconcile();
    assert.equal(problems.length, 2);
    assert.ok(kernel.setLan.calledBefore(kernel.disallow), 'the LAN entry is gone before the flows are cut');
    assert.deepEqual(kernel.disallow.lastCall.args[0].map((a: { bytes: Uint8Array }) => Array.from(a.bytes).join('.')), ['203.0.113.11', '203.0.113.10']);
    assert.equal(kernel.install.callCount, 1, 'no full install for members (the one call is the enable)');
    const [row] = await store.listAudit({ limit: 1 });
    assert.equal(row.action, 'repaired');
    assert.match(row.detail ?? '', /203\.0\.113\.11.*203\.0\.113\.10/);
    assert.equal(repaired.length, 1);
  });

  it('a repair that does not hold is audited and announced once, then once per 10 minutes with a count; a new damage after a healthy check at once', async () => {
    await h.dispose();
    let mono = 0;
    h = await testEngine({ mono: () => mono });
    ({ store, kernel, engine } = h);
    await engine.enable(admin);
    kernel.allow.resetHistory();
    const announced: string[] = [];
    engine.on('repaired', ({ what }) => announced.push(what));
    const rows = async () => (await store.listAudit({ limit: 100 })).filter(r => r.action === 'repaired').map(r => r.detail);
    const refused = health(['IPv4 allow set lacks 1 registered entry: 203.0.113.30'], { missing: [{ ...v4('203.0.113.30'), timeout: 60 }] });
    kernel.allow.returns([{ index: 0, entry: { op: 'add', ...v4('203.0.113.30'), timeout: 60 }, code: 4103, reason: 'set is full' }]);
    kernel.check.resolves(refused);
    for (let i = 0; i < 50; i++) {
      assert.equal((await engine.reconcile()).length, 1, 'each check still repairs');
      mono += 4000;
    }
    assert.equal(kernel.allow.callCount, 50, 'the entry was put back at every check');
    assert.deepEqual(await rows(), ['IPv4 allow set lacks 1 registered entry: 203.0.113.30'], 'one row for 50 checks, not 50');
    assert.equal(announced.length, 1);
    mono += 10 * 60_000;
    await engine.reconcile();
    assert.equal((await rows())[0], 'IPv4 allow set lacks 1 registered entry: 203.0.113.30 (the repair does not hold: found again by 50 checks since the last report)');
    assert.equal(announced.length, 2);
    kernel.check.resolves(health([]));
    await engine.reconcile();
    kernel.check.resolves(refused);
    await engine.reconcile();
    assert.equal((await rows()).length, 3, 'healthy in between: a new damage, reported at once');
    assert.equal(announced.length, 3);
  });

  it('installs everything again when the structure is damaged, and still cuts what was let in', async () => {
    kernel.check.resolves(health(['IPv4 chain SIPA_INPUT is missing', 'IPv4 allow set holds 1 entry nobody registered: 203.0.113.11'],
      { extra: [v4('203.0.113.11')] }, true));
    await engine.reconcile();
    assert.equal(kernel.install.callCount, 2);
    assert.equal(kernel.replaceAllowed.callCount, 2);
    assert.equal(kernel.disallow.callCount, 1);
  });

  it('watches only while enforcing', async () => {
    assert.equal(engine.watch(), 'tables sets');
    await engine.disable(admin);
    assert.equal(engine.watch(), null);
  });
});

describe('reconciler: the pace of looks and full checks (fake timers)', () => {
  let clock: sinon.SinonFakeTimers;
  let seen: string;
  let answers: string[][];
  let target: { reconcile: sinon.SinonStub; watch: sinon.SinonStub };
  let reconciler: Reconciler;
  const log = sinon.stub();

  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout'] });
    seen = 'a';
    answers = [];
    target = {
      reconcile: sinon.stub().callsFake(async () => answers.shift() ?? []),
      watch: sinon.stub().callsFake(() => seen),
    };
    log.resetHistory();
    reconciler = new Reconciler(target, 4000, log, { now: () => clock.now });
    reconciler.start();
  });
  afterEach(async () => {
    await reconciler.stop();
    clock.restore();
  });

  it('checks in full at once, then every interval while the look stays the same', async () => {
    await clock.tickAsync(WATCH_MS);
    assert.equal(target.reconcile.callCount, 1);
    await clock.tickAsync(3900);
    assert.equal(target.reconcile.callCount, 1);
    await clock.tickAsync(400);
    assert.equal(target.reconcile.callCount, 2);
    assert.ok(target.watch.callCount >= 16, 'looked every 250 ms');
  });

  it('checks in full within one look of a change', async () => {
    await clock.tickAsync(WATCH_MS);
    seen = 'b';
    await clock.tickAsync(WATCH_MS);
    assert.equal(target.reconcile.callCount, 2);
    await clock.tickAsync(WATCH_MS * 4);
    assert.equal(target.reconcile.callCount, 2, 'and not again while it stays so');
  });

  it('checks again right after a repair; a repair that does not hold is retried at the interval', async () => {
    answers = [['chain missing'], []];
    await clock.tickAsync(WATCH_MS * 2);
    assert.equal(target.reconcile.callCount, 2, 'the repair was verified at the next look');
    answers = [['entry refused'], ['entry refused'], ['entry refused']];
    seen = 'c';
    await clock.tickAsync(WATCH_MS * 3);
    assert.equal(target.reconcile.callCount, 4, 'one repair, one verification that found it again');
    await clock.tickAsync(3000);
    assert.equal(target.reconcile.callCount, 4, 'not at every look');
    await clock.tickAsync(1500);
    assert.equal(target.reconcile.callCount, 5);
  });

  it('a look that fails is logged once; the full checks go on', async () => {
    target.watch.throws(new Error('no raw socket'));
    await clock.tickAsync(8600);
    assert.equal(target.reconcile.callCount, 3);
    assert.equal(log.withArgs('warn').callCount, 1);
  });
});
