// Ports the NAS forwards: a container behind the NAS, published on NAS:9090 by DNAT, against the real kernel.
// The forward chain sees only flows the NAS destination-NATed; routed traffic and the LAN pass untouched.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import { holdConnection, inNs, makeTopology, startServer, Topology, tryConnect } from '../../scripts/lib/netns';
import { addContainer, Container } from '../../scripts/lib/container';
import { Family, KernelEntry, loadNative, NetlinkHandle } from '../../module/kernel/native';
import { IpsetManager } from '../../module/kernel/ipset';
import { Firewall, FirewallPlan } from '../../module/kernel/firewall';
import { commandRunner } from '../../module/kernel/command';
import { parseNetwork } from '../../module/domain/address';
import { checkConfig, kernelNames } from '../../module/config';

const PUBLISHED = 9090;
const TARGET = 8080;
/** The names the daemon gives its chain and sets with the default config. */
const names = kernelNames(checkConfig({ dataDir: '/unused' }));
const plan: FirewallPlan = { names, protect: 'all', action: 'drop' };
const FAMILIES = [4, 6] as const;

const entry = (op: 'add' | 'del', text: string, timeout = 0): KernelEntry => {
  const n = parseNetwork(text);
  return { op, family: n.family as Family, bytes: n.bytes, prefix: n.prefix, timeout };
};

describe('kernel: ports the NAS forwards to a container (DNAT), in namespaces', function () {
  this.timeout(30000);
  let net: Topology;
  let ctr: Container;
  let nl: NetlinkHandle;
  let sets: IpsetManager;
  let firewall: Firewall;
  let server: ChildProcess;
  const ipt = (f: Family, ...args: string[]) => inNs(net.nas, f === 4 ? 'iptables-legacy' : 'ip6tables-legacy', args);

  before(async () => {
    net = makeTopology('fwd');
    ctr = addContainer(net);
    ctr.publish(PUBLISHED, TARGET);
    const lib = loadNative();
    nl = lib.open(net.nasPath);
    sets = new IpsetManager(nl, lib.strerror);
    firewall = new Firewall(commandRunner(net.nas));
    for (const f of FAMILIES) {
      sets.ensure({ name: names.allow[f], family: f, hashsize: 1024, maxelem: 65536, timeout: true });
      sets.ensure({ name: names.lan[f], family: f, hashsize: 1024, maxelem: 4096, timeout: false });
    }
    sets.apply(names.lan[4], [entry('add', '192.0.2.0/24'), entry('add', '198.51.100.0/24')]);
    sets.apply(names.lan[6], [entry('add', '2001:db8:1::/64'), entry('add', '2001:db8:5::/64')]);
    server = await startServer(ctr.ns, [TARGET]);
  });
  beforeEach(async () => {
    for (const f of FAMILIES) await firewall.install(f, plan);
  });
  afterEach(async () => {
    for (const f of FAMILIES) nl.setFlush(names.allow[f]);
    for (const f of FAMILIES) {
      await firewall.remove(f, plan);
      for (const args of [['-F', 'FORWARD'], ['-F', 'DOCKER-USER'], ['-X', 'DOCKER-USER'], ['-F', 'DOCKER'], ['-X', 'DOCKER']]) {
        try { ipt(f, ...args); } catch { /* not there */ }
      }
    }
  });
  after(() => {
    server?.kill();
    nl?.close();
    ctr?.destroy();
    net?.destroy();
  });

  for (const f of FAMILIES) {
    it(`refuses an unregistered remote at a published port, allows a registered one, and resets its flow once it is out (IPv${f})`, async () => {
      assert.equal(await tryConnect(net.remote, net.nasAddr[f], PUBLISHED), 'timeout');
      sets.apply(names.allow[f], [entry('add', net.remoteAddr[f], 60)]);
      assert.equal(await tryConnect(net.remote, net.nasAddr[f], PUBLISHED), 'connected');
      const held = holdConnection(net.remote, net.nasAddr[f], PUBLISHED);
      assert.equal(await held.connected, true);
      const t0 = Date.now();
      sets.apply(names.allow[f], [entry('del', net.remoteAddr[f])]);
      const dead = await held.dead;
      assert.ok(dead.atMs - t0 < 1000, `died after ${dead.atMs - t0} ms`);
      assert.equal(dead.reason, 'ECONNRESET');
    });

    it(`leaves the LAN and traffic the NAS merely routes alone (IPv${f})`, async () => {
      assert.equal(await tryConnect(net.router, net.nasAddr[f], PUBLISHED), 'connected', 'LAN host at the published port');
      assert.equal(await tryConnect(net.remote, ctr.addr[f], TARGET), 'connected', 'routed to the container, no DNAT');
      const routed = holdConnection(net.remote, ctr.addr[f], TARGET);
      assert.equal(await routed.connected, true);
      const alive = await Promise.race([routed.dead.then(d => d.reason), new Promise(r => setTimeout(() => r('alive'), 600))]);
      assert.equal(alive, 'alive');
      routed.stop();
    });
  }

  it('protects by the NAS port a flow was sent to when only some ports are protected', async () => {
    ctr.publish(9191, TARGET);
    const ports: FirewallPlan = { names, protect: { tcp: [PUBLISHED], udp: [] }, action: 'reject' };
    for (const f of FAMILIES) await firewall.install(f, ports);
    for (const f of FAMILIES) {
      assert.equal(await tryConnect(net.remote, net.nasAddr[f], PUBLISHED), 'refused', `IPv${f}: protected NAS:9090 rejects`);
      assert.equal(await tryConnect(net.remote, net.nasAddr[f], 9191), 'connected', `IPv${f}: NAS:9191 is not protected`);
    }
  });

  it('protects a published port through Docker\'s DOCKER-USER chain when Docker puts its own jumps first', async () => {
    for (const f of FAMILIES) {
      // Docker's layout: FORWARD jumps to DOCKER-USER, then accepts what DOCKER publishes.
      ipt(f, '-N', 'DOCKER-USER');
      ipt(f, '-N', 'DOCKER');
      ipt(f, '-A', 'DOCKER', '-d', ctr.addr[f], '-p', 'tcp', '--dport', String(TARGET), '-j', 'ACCEPT');
      await firewall.install(f, plan);
      assert.deepEqual(await firewall.verify(f, plan), { ok: true, problems: [] });
      assert.match(ipt(f, '-S', 'DOCKER-USER'), /-A DOCKER-USER -m conntrack --ctstate DNAT -j SIPA_FORWARD/);
      // dockerd restarting: its jumps go back to the top of FORWARD, above ours
      ipt(f, '-I', 'FORWARD', '1', '-j', 'DOCKER-USER');
      ipt(f, '-I', 'FORWARD', '2', '-o', 'ctr0', '-j', 'DOCKER');
      assert.match((await firewall.verify(f, plan)).problems.join(), /jump to SIPA_FORWARD is not the first rule of FORWARD/);
      assert.equal(await tryConnect(net.remote, net.nasAddr[f], PUBLISHED), 'timeout', `IPv${f}: refused through DOCKER-USER`);
      sets.apply(names.allow[f], [entry('add', net.remoteAddr[f], 60)]);
      assert.equal(await tryConnect(net.remote, net.nasAddr[f], PUBLISHED), 'connected', `IPv${f}: registered`);
    }
  });

  it('finds a missing forward jump, Docker jump or chain, repairs them, and removes them all', async () => {
    ipt(4, '-N', 'DOCKER-USER');
    await firewall.install(4, plan);
    ipt(4, '-D', 'FORWARD', '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'SIPA_FORWARD');
    ipt(4, '-F', 'DOCKER-USER');
    ipt(6, '-F', 'SIPA_FORWARD');
    const v4 = (await firewall.verify(4, plan)).problems.join();
    assert.match(v4, /jump from FORWARD to SIPA_FORWARD is missing/);
    assert.match(v4, /jump from DOCKER-USER to SIPA_FORWARD is missing/);
    assert.match((await firewall.verify(6, plan)).problems.join(), /SIPA_FORWARD has 0 rules/);
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PUBLISHED), 'connected', 'open while the jumps are gone');
    for (const f of FAMILIES) await firewall.install(f, plan);
    for (const f of FAMILIES) assert.deepEqual(await firewall.verify(f, plan), { ok: true, problems: [] });
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PUBLISHED), 'timeout');
    for (const f of FAMILIES) await firewall.remove(f, plan);
    for (const save of ['iptables-legacy-save', 'ip6tables-legacy-save']) assert.doesNotMatch(inNs(net.nas, save, []), /SIPA/);
    assert.match(ipt(4, '-S'), /-N DOCKER-USER/, 'Docker\'s chain is Docker\'s');
  });
});
