// The whole enforcement path against the real kernel: a NAS namespace with the chain and sets, a remote device
// behind a router, and a LAN peer. What a user would check: who can connect, and that a cut flow dies.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import { holdConnection, inNs, makeTopology, probeConnections, startServer, Topology, tryConnect, udpFlows } from '../../scripts/lib/netns';
import { Family, KernelEntry, loadNative, NetlinkHandle } from '../../module/kernel/native';
import { IpsetManager, SetSpec } from '../../module/kernel/ipset';
import { Firewall, FirewallPlan } from '../../module/kernel/firewall';
import { commandRunner } from '../../module/kernel/command';
import { flowCutter } from '../../module/kernel/conntrack';
import { checkConfig, kernelNames } from '../../module/config';

const PORT = 8080;
/** The names the daemon gives its chain and sets with the default config. */
const names = kernelNames(checkConfig({ dataDir: '/unused' }));
const plan: FirewallPlan = { names, protect: 'all', action: 'drop' };

function bytesOf(addr: string): Uint8Array {
  if (!addr.includes(':')) return Uint8Array.from(addr.split('.').map(Number));
  const [head, tail] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const b = new Uint8Array(16);
  groups.forEach((g, i) => { b[2 * i] = parseInt(g, 16) >> 8; b[2 * i + 1] = parseInt(g, 16) & 255; });
  return b;
}
const entry = (op: 'add' | 'del', addr: string, timeout: number, prefix?: number): KernelEntry => {
  const family: Family = addr.includes(':') ? 6 : 4;
  return { op, family, bytes: bytesOf(addr), prefix: prefix ?? (family === 4 ? 32 : 128), timeout };
};

describe('kernel: enforcement in namespaces (firewall chain + sets + conntrack)', function () {
  this.timeout(30000);
  let net: Topology;
  let nl: NetlinkHandle;
  let sets: IpsetManager;
  let firewall: Firewall;
  let server: ChildProcess;
  const allowSpec = (f: Family): SetSpec => ({ name: names.allow[f], family: f, hashsize: 1024, maxelem: 65536, timeout: true });

  before(async () => {
    net = makeTopology('enf');
    const lib = loadNative();
    nl = lib.open(net.nasPath);
    sets = new IpsetManager(nl, lib.strerror);
    firewall = new Firewall(commandRunner(net.nas));
    for (const f of [4, 6] as const) {
      sets.ensure(allowSpec(f));
      sets.ensure({ name: names.lan[f], family: f, hashsize: 1024, maxelem: 4096, timeout: false });
    }
    sets.apply(names.lan[4], [entry('add', '192.0.2.0', 0, 24)]);
    sets.apply(names.lan[6], [entry('add', '2001:db8:1::', 0, 64)]);
    for (const f of [4, 6] as const) await firewall.install(f, plan);
    server = await startServer(net.nas, [PORT]);
  });
  after(() => {
    server?.kill();
    nl?.close();
    net?.destroy();
  });
  afterEach(() => {
    for (const f of [4, 6] as const) nl.setFlush(names.allow[f]);
  });

  it('refuses an unregistered remote device, allows it once its address is in the set', async () => {
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'timeout');
    sets.apply(names.allow[4], [entry('add', net.remoteAddr[4], 60)]);
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'connected');
  });

  it('does the same for IPv6', async () => {
    assert.equal(await tryConnect(net.remote, net.nasAddr[6], PORT), 'timeout');
    sets.apply(names.allow[6], [entry('add', net.remoteAddr[6], 60)]);
    assert.equal(await tryConnect(net.remote, net.nasAddr[6], PORT), 'connected');
  });

  it('never blocks a LAN address, even with nothing registered', async () => {
    assert.equal(await tryConnect(net.router, net.nasAddr[4], PORT), 'connected');
    assert.equal(await tryConnect(net.router, net.nasAddr[6], PORT), 'connected');
  });

  it('ends an established connection within 1 s when the entry is removed and its flows are cut', async () => {
    sets.apply(names.allow[4], [entry('add', net.remoteAddr[4], 60)]);
    const held = holdConnection(net.remote, net.nasAddr[4], PORT);
    assert.equal(await held.connected, true);
    await new Promise(r => setTimeout(r, 300));
    const t0 = Date.now();
    sets.apply(names.allow[4], [entry('del', net.remoteAddr[4], 0)]);
    const cut = flowCutter(nl).cut(4, [{ bytes: bytesOf(net.remoteAddr[4]), prefix: 32 }]);
    assert.ok(cut >= 1, `cut ${cut} flows`);
    const dead = await held.dead;
    assert.ok(dead.atMs - t0 < 1000, `connection died after ${dead.atMs - t0} ms (${dead.reason})`);
    assert.equal(dead.reason, 'ECONNRESET', 'the client is told by a reset, not left to time out');
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'timeout');
  });

  it('cuts IPv6 flows of one source and leaves other sources alone', async () => {
    net.addRemoteAddress('2001:db8:2::11');
    sets.apply(names.allow[6], [entry('add', net.remoteAddr[6], 60), entry('add', '2001:db8:2::11', 60)]);
    const victim = holdConnection(net.remote, net.nasAddr[6], PORT, net.remoteAddr[6]);
    const other = holdConnection(net.remote, net.nasAddr[6], PORT, '2001:db8:2::11');
    assert.equal(await victim.connected, true);
    assert.equal(await other.connected, true);
    sets.apply(names.allow[6], [entry('del', net.remoteAddr[6], 0)]);
    const cut = flowCutter(nl).cut(6, [{ bytes: bytesOf(net.remoteAddr[6]), prefix: 128 }]);
    assert.ok(cut >= 1, `cut ${cut}`); // the held flow, plus any closed ones of earlier tests
    await victim.dead;
    const stillAlive = await Promise.race([other.dead.then(() => false), new Promise(r => setTimeout(() => r(true), 600))]);
    assert.equal(stillAlive, true, 'the other device keeps its connection');
    other.stop();
  });

  it('resets an established connection at its next packet once its source is out of the set, with no conntrack cut', async () => {
    for (const f of [4, 6] as const) {
      sets.apply(names.allow[f], [entry('add', net.remoteAddr[f], 60)]);
      const held = holdConnection(net.remote, net.nasAddr[f], PORT, net.remoteAddr[f]);
      assert.equal(await held.connected, true);
      await new Promise(r => setTimeout(r, 200));
      const t0 = Date.now();
      sets.apply(names.allow[f], [entry('del', net.remoteAddr[f], 0)]);
      const dead = await held.dead;
      assert.ok(dead.atMs - t0 < 1000, `IPv${f}: died after ${dead.atMs - t0} ms (${dead.reason})`);
      assert.equal(dead.reason, 'ECONNRESET', `IPv${f}: the chain resets the flow whose conntrack entry is still there`);
    }
  });

  it('keeps the connections the NAS starts: the replies of any address pass, before and after the set changes', async () => {
    const far = await startServer(net.remote, [7070]);
    try {
      const held = [4, 6].map(f => holdConnection(net.nas, net.remoteAddr[f as Family], 7070));
      for (const h of held) assert.equal(await h.connected, true);
      assert.equal(await tryConnect(net.nas, net.remoteAddr[4], 7070), 'connected');
      assert.equal(await tryConnect(net.nas, net.remoteAddr[6], 7070), 'connected');
      const alive = await Promise.race([Promise.any(held.map(h => h.dead)).then(d => d.reason), new Promise(r => setTimeout(() => r('alive'), 800))]);
      assert.equal(alive, 'alive', 'the NAS\'s own connections keep their replies');
      for (const h of held) h.stop();
    } finally {
      far.kill();
    }
  });

  it('cuts the TCP flows of whole networks by prefix, several in one dump, none outside them, and leaves UDP flows to the chain', async () => {
    sets.apply(names.allow[4], [entry('add', '203.0.113.0', 60, 24)]);
    sets.apply(names.allow[6], [entry('add', '2001:db8:2::', 60, 64)]);
    const held = [4, 6].map(f => holdConnection(net.remote, net.nasAddr[f as Family], PORT, net.remoteAddr[f as Family]));
    for (const h of held) assert.equal(await h.connected, true);
    await udpFlows(net.remote, net.nasAddr[4], PORT, net.remoteAddr[4], 3);
    const tracked = (args: string[]) => inNs(net.nas, 'conntrack', ['-L', ...args]).split('\n').filter(Boolean).length;
    const cutter = flowCutter(nl);
    assert.equal(cutter.cut(4, [{ bytes: bytesOf('203.0.113.128'), prefix: 25 }]), 0, '203.0.113.10 is not in 203.0.113.128/25');
    assert.equal(cutter.cut(6, [{ bytes: bytesOf('2001:db8:2:1::'), prefix: 64 }]), 0, '2001:db8:2::10 is not in 2001:db8:2:1::/64');
    assert.equal(tracked(['-p', 'tcp', '-s', net.remoteAddr[4], '--dport', String(PORT), '--state', 'ESTABLISHED']), 1);
    sets.apply(names.allow[4], [entry('del', '203.0.113.0', 0, 24)]);
    sets.apply(names.allow[6], [entry('del', '2001:db8:2::', 0, 64)]);
    assert.ok(cutter.cut(4, [{ bytes: bytesOf('198.51.100.7'), prefix: 32 }, { bytes: bytesOf('203.0.113.0'), prefix: 24 }]) >= 1);
    assert.ok(cutter.cut(6, [{ bytes: bytesOf('2001:db8:2::'), prefix: 64 }, { bytes: bytesOf('2001:db8:9::'), prefix: 48 }]) >= 1);
    assert.equal(tracked(['-p', 'tcp', '-s', net.remoteAddr[4], '--dport', String(PORT), '--state', 'ESTABLISHED']), 0);
    assert.equal(tracked(['-f', 'ipv6', '-p', 'tcp', '-s', net.remoteAddr[6], '--dport', String(PORT), '--state', 'ESTABLISHED']), 0);
    assert.ok(tracked(['-p', 'udp', '-s', net.remoteAddr[4]]) >= 3, 'UDP flows stay tracked (refused both ways)');
    for (const h of held) assert.equal((await h.dead).reason, 'ECONNRESET');
  });

  it('never refuses an allowed device during 100 full replaces', async () => {
    // With "reject" a refusal is a reset the client sees at once, told apart from a SYN lost for other reasons.
    const rejecting: FirewallPlan = { ...plan, action: 'reject' };
    await firewall.install(4, rejecting);
    try {
      sets.apply(names.allow[4], [entry('add', net.remoteAddr[4], 600)]);
      const filler = Array.from({ length: 256 }, (_, i) => entry('add', `198.51.100.${i}`, 600));
      const probe = probeConnections(net.remote, net.nasAddr[4], PORT, 3000, 2);
      let replaces = 0;
      while (replaces < 100) {
        sets.replace(allowSpec(4), [...filler, entry('add', net.remoteAddr[4], 600)]);
        replaces++;
        await new Promise(r => setTimeout(r, 20)); // spread the replaces over the probe's run
      }
      const { ok, refused, timeout } = await probe;
      assert.equal(refused, 0, `${refused} of ${ok + refused + timeout} attempts refused during ${replaces} replaces`);
      assert.ok(ok > 100, `only ${ok} probe connections succeeded (${timeout} unanswered)`);
      assert.ok(timeout <= ok / 100, `${timeout} attempts unanswered of ${ok + timeout}`);
    } finally {
      await firewall.install(4, plan);
    }
  });

  it('finds a flushed chain or a deleted jump, and repairs it', async () => {
    assert.deepEqual(await firewall.verify(4, plan), { ok: true, problems: [] });
    inNs(net.nas, 'iptables-legacy', ['-F', 'SIPA_INPUT']);
    inNs(net.nas, 'ip6tables-legacy', ['-D', 'INPUT', '-j', 'SIPA_INPUT']);
    inNs(net.nas, 'iptables-legacy', ['-D', 'OUTPUT', '-j', 'SIPA_OUTPUT']);
    const v4 = await firewall.verify(4, plan);
    const v6 = await firewall.verify(6, plan);
    assert.equal(v4.ok, false);
    assert.match(v4.problems.join(), /SIPA_INPUT has 0 rules/);
    assert.match(v4.problems.join(), /jump from OUTPUT to SIPA_OUTPUT is missing/);
    assert.match(v6.problems.join(), /jump from INPUT to SIPA_INPUT is missing/);
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'connected', 'open while the chain is empty');
    await firewall.install(4, plan);
    await firewall.install(6, plan);
    assert.equal((await firewall.verify(4, plan)).ok, true);
    assert.equal((await firewall.verify(6, plan)).ok, true);
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'timeout');
  });

  it('keeps one jump, first in INPUT, however often it is installed', async () => {
    inNs(net.nas, 'iptables-legacy', ['-I', 'INPUT', '1', '-p', 'icmp', '-j', 'ACCEPT']);
    await firewall.install(4, plan);
    await firewall.install(4, plan);
    const input = inNs(net.nas, 'iptables-legacy-save', ['-t', 'filter']).split('\n').filter(l => l.startsWith('-A INPUT'));
    assert.equal(input[0], '-A INPUT -j SIPA_INPUT');
    assert.equal(input.filter(l => l.includes('SIPA_INPUT')).length, 1);
  });

  it('protects only the configured ports when asked, and rejects when asked', async () => {
    const portsPlan: FirewallPlan = { names, protect: { tcp: [PORT], udp: [] }, action: 'reject' };
    await firewall.install(4, portsPlan);
    const other = await startServer(net.nas, [9090]);
    try {
      assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'refused', 'protected port rejects');
      assert.equal(await tryConnect(net.remote, net.nasAddr[4], 9090), 'connected', 'unprotected port open');
    } finally {
      other.kill();
      await firewall.install(4, plan);
    }
  });

  it('removes its chain and jump completely', async () => {
    await firewall.remove(4, plan);
    await firewall.remove(6, plan);
    await firewall.remove(4, plan); // twice is fine
    for (const save of ['iptables-legacy-save', 'ip6tables-legacy-save']) {
      assert.doesNotMatch(inNs(net.nas, save, []), /SIPA/, 'neither chain nor jump (INPUT, OUTPUT, FORWARD) is left');
    }
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'connected');
    for (const f of [4, 6] as const) await firewall.install(f, plan);
  });
});
