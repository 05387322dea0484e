// The reconciler against another component's changes to the kernel: set members swapped or added, the LAN set
// emptied, the chain, a jump or a set removed. The real daemon in a test NAS namespace. To hold a connection
// through a damaged state before the daemon can repair it, the daemon is paused (SIGSTOP) while the damage is
// done and the connection made, and resumed (SIGCONT) to let it find and repair what changed.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import { HeldConnection, holdConnection, inNs, makeTopology, startServer, Topology, tryConnect } from '../../scripts/lib/netns';
import { makeDaemon, TestDaemon } from '../../scripts/lib/daemon';
import { sleep, until } from '../../scripts/lib/wait';
import type { AuditEntry } from '../../module/engine/contract';

const PORT = 8080;
const INTRUDER = { 4: '203.0.113.11', 6: '2001:db8:2::11' };

/** The members of a set as `ipset list` prints them, without timeouts. */
function members(ns: string, set: string): string[] {
  const out = inNs(ns, 'ipset', ['list', set]);
  return out.slice(out.indexOf('Members:\n') + 'Members:\n'.length).split('\n').filter(Boolean).map(l => l.split(' ')[0]).sort();
}

/**
 * The filter tables of both families, the set names and the IPv4 allow set's members, without counters: what
 * "intact" looks like. The members too: a set put back is repaired when the registered devices are in it again
 * (the engine creates it, then fills it).
 */
function kernelShape(ns: string): string {
  const rules = ['iptables-legacy-save', 'ip6tables-legacy-save'].map(p =>
    inNs(ns, p, ['-t', 'filter']).split('\n').filter(l => l && !l.startsWith('#')).map(l => l.replace(/\[\d+:\d+\]/, '')).join('\n'));
  const names = inNs(ns, 'ipset', ['list', '-n']).split('\n').filter(Boolean).sort();
  const allowed = names.includes('sipa4_allow') ? members(ns, 'sipa4_allow').join(' ') : 'no allow set';
  return [...rules, names.join(' '), allowed].join('\n');
}

async function repairAudited(d: TestDaemon): Promise<AuditEntry> {
  return until('a "repaired" audit row', async () => (await d.sipaJson<AuditEntry[]>('audit', '--limit', '10')).find(a => a.action === 'repaired'), 5000, 100);
}

/** Runs `whilePaused` with the daemon stopped, then lets it run again. */
async function paused<T>(d: TestDaemon, whilePaused: () => Promise<T>): Promise<T> {
  d.process!.kill('SIGSTOP');
  try {
    return await whilePaused();
  } finally {
    d.process!.kill('SIGCONT');
  }
}

describe('service: the reconciler compares contents, not counts', function () {
  this.timeout(60000);
  let net: Topology;
  let server: ChildProcess;
  let d: TestDaemon;
  let held: HeldConnection | null = null;

  before(async () => {
    net = makeTopology('rec');
    net.addRemoteAddress(INTRUDER[4]);
    net.addRemoteAddress(INTRUDER[6]);
    server = await startServer(net.nas, [PORT]);
  });
  after(() => {
    server?.kill();
    net?.destroy();
  });
  beforeEach(async () => {
    // One /128 per registered IPv6 address (not its /64), so that a neighbour in the /64 is an intruder.
    d = makeDaemon(net.nas, { policy: { minSeconds: 1, ipv6Scope: 'address' } });
    await d.start();
    const r = await d.sipa('enable');
    assert.equal(r.code, 0, r.stderr);
  });
  afterEach(async () => {
    held?.stop();
    held = null;
    await d.sipa('disable');
    await d.destroy();
  });

  it('puts back a registered address swapped for an unregistered one, and cuts the intruder\'s connection', async () => {
    for (const f of [4, 6] as const) assert.equal((await d.sipa('register', net.remoteAddr[f], '--for', '10m')).code, 0);
    await paused(d, async () => {
      for (const f of [4, 6] as const) {
        inNs(net.nas, 'ipset', ['del', `sipa${f}_allow`, net.remoteAddr[f]]);
        inNs(net.nas, 'ipset', ['add', `sipa${f}_allow`, INTRUDER[f], 'timeout', '600']);
      }
      held = holdConnection(net.remote, net.nasAddr[4], PORT, INTRUDER[4]);
      assert.equal(await held.connected, true, 'the swapped-in address connects while the daemon is paused');
    });
    const dead = await Promise.race([held!.dead, sleep(5000).then(() => null)]);
    assert.ok(dead, 'the intruder\'s connection was not cut within 5 s');
    assert.deepEqual(members(net.nas, 'sipa4_allow'), [net.remoteAddr[4]]);
    assert.deepEqual(members(net.nas, 'sipa6_allow'), [net.remoteAddr[6]]);
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT, { from: INTRUDER[4] }), 'timeout');
    assert.equal(await tryConnect(net.remote, net.nasAddr[6], PORT, { from: INTRUDER[6] }), 'timeout');
    // The remote has two addresses of each family now: name the source.
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT, { from: net.remoteAddr[4] }), 'connected', 'the registered device is allowed again');
    assert.equal(await tryConnect(net.remote, net.nasAddr[6], PORT, { from: net.remoteAddr[6] }), 'connected');
    assert.match((await repairAudited(d)).detail ?? '', /203\.0\.113\.11/);
  });

  it('takes an address added to the LAN sets out again, and cuts its connection', async () => {
    const lanBefore = { 4: members(net.nas, 'sipa4_lan'), 6: members(net.nas, 'sipa6_lan') };
    await paused(d, async () => {
      inNs(net.nas, 'ipset', ['add', 'sipa4_lan', net.remoteAddr[4]]);
      inNs(net.nas, 'ipset', ['add', 'sipa6_lan', net.remoteAddr[6]]);
      held = holdConnection(net.remote, net.nasAddr[4], PORT, net.remoteAddr[4]);
      assert.equal(await held.connected, true, 'the unregistered address connects through the LAN set');
    });
    const dead = await Promise.race([held!.dead, sleep(5000).then(() => null)]);
    assert.ok(dead, 'the connection was not cut within 5 s');
    assert.deepEqual({ 4: members(net.nas, 'sipa4_lan'), 6: members(net.nas, 'sipa6_lan') }, lanBefore);
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT, { from: net.remoteAddr[4] }), 'timeout');
    assert.equal(await tryConnect(net.remote, net.nasAddr[6], PORT, { from: net.remoteAddr[6] }), 'timeout');
    await repairAudited(d);
  });

  it('refills emptied LAN sets: the LAN connects again', async () => {
    await paused(d, async () => {
      inNs(net.nas, 'ipset', ['flush', 'sipa4_lan']);
      inNs(net.nas, 'ipset', ['flush', 'sipa6_lan']);
      assert.equal(await tryConnect(net.router, net.nasAddr[4], PORT), 'timeout', 'the LAN is refused while the set is empty');
    });
    await until('the LAN connects again over IPv4', async () => (await tryConnect(net.router, net.nasAddr[4], PORT, { timeoutMs: 300 })) === 'connected', 5000);
    await until('and over IPv6', async () => (await tryConnect(net.router, net.nasAddr[6], PORT, { timeoutMs: 300 })) === 'connected', 5000);
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'timeout', 'the internet is still refused');
    await repairAudited(d);
  });
});

describe('service: the reconciler watches the chain, the jumps and the sets between full checks', function () {
  this.timeout(60000);
  let net: Topology;
  let d: TestDaemon;

  before(() => {
    net = makeTopology('watch');
  });
  after(() => net?.destroy());
  beforeEach(async () => {
    // Full checks 5 s apart (the most the config allows): a repair well within that came from the watch.
    d = makeDaemon(net.nas, { reconcile: { intervalSeconds: 5 } });
    await d.start();
    assert.equal((await d.sipa('enable')).code, 0);
    assert.equal((await d.sipa('register', net.remoteAddr[4], '--for', '10m')).code, 0);
  });
  afterEach(async () => {
    await d.sipa('disable');
    await d.destroy();
  });

  const ipt = (...args: string[]) => inNs(net.nas, 'iptables-legacy', args);
  const ip6t = (...args: string[]) => inNs(net.nas, 'ip6tables-legacy', args);
  for (const [what, damage] of [
    ['the IPv4 chain flushed', () => ipt('-F', 'SIPA_INPUT')],
    ['the IPv6 jump from INPUT deleted', () => ip6t('-D', 'INPUT', '-j', 'SIPA_INPUT')],
    ['the IPv4 output jump deleted', () => ipt('-D', 'OUTPUT', '-j', 'SIPA_OUTPUT')],
    ['the IPv4 allow set destroyed', () => {
      // one restore: the watcher could refill one chain between separate flushes
      inNs(net.nas, 'iptables-legacy-restore', ['--noflush'], '*filter\n-F SIPA_INPUT\n-F SIPA_OUTPUT\n-F SIPA_FORWARD\nCOMMIT\n');
      inNs(net.nas, 'ipset', ['destroy', 'sipa4_allow']);
    }],
    ['the IPv6 LAN set destroyed', () => {
      // one restore: the watcher could refill one chain between separate flushes
      inNs(net.nas, 'ip6tables-legacy-restore', ['--noflush'], '*filter\n-F SIPA_INPUT\n-F SIPA_OUTPUT\n-F SIPA_FORWARD\nCOMMIT\n');
      inNs(net.nas, 'ipset', ['destroy', 'sipa6_lan']);
    }],
  ] as Array<[string, () => void]>) {
    it(`repairs ${what}, twice in a row, the second time before the next full check`, async () => {
      const intact = kernelShape(net.nas);
      damage();
      await until('repaired', () => kernelShape(net.nas) === intact, 6000, 50);
      // The first repair done (audited), not merely its rules back: a second damage in the middle of it would be
      // a different test.
      await repairAudited(d);
      // Right after a repair the next full check is up to 5 s away: only the watch can repair this in time.
      damage();
      await until('repaired again before the next full check', () => kernelShape(net.nas) === intact, 4000, 50);
      assert.deepEqual(members(net.nas, 'sipa4_allow'), [net.remoteAddr[4]]);
      await repairAudited(d);
    });
  }
});
