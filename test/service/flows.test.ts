// No flow of a source that is not allowed survives, and ports the NAS forwards are protected like its own: the
// real daemon enforcing inside a test NAS namespace, the real `sipa` CLI, a remote device behind a router, a LAN
// peer (the router), and a container the NAS publishes on port 9090 by DNAT.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import { HeldConnection, holdConnection, inNs, makeTopology, startServer, Topology, tryConnect } from '../../scripts/lib/netns';
import { addContainer, Container } from '../../scripts/lib/container';
import { makeDaemon, TestDaemon } from '../../scripts/lib/daemon';
import { until } from '../../scripts/lib/wait';
import type { AuditEntry, Device } from '../../module/engine/contract';

const PORT = 8080;
const PUBLISHED = 9090;
const OUTSIDE = 7070;
const FAMILIES = [4, 6] as const;

/** Resolves 'alive' if the connection is still up after ms, else how it died. */
function stillAlive(held: HeldConnection, ms: number): Promise<string> {
  return Promise.race([held.dead.then(d => `dead (${d.reason})`), new Promise<string>(r => setTimeout(() => r('alive'), ms))]);
}

async function diesWithin(held: HeldConnection, t0: number, ms: number, what: string): Promise<void> {
  const dead = await Promise.race([held.dead, new Promise<null>(r => setTimeout(() => r(null), ms + 1000))]);
  assert.ok(dead, `${what}: still open ${ms + 1000} ms later`);
  assert.ok(dead.atMs - t0 < ms, `${what}: died ${dead.atMs - t0} ms after, not within ${ms} ms`);
  assert.equal(dead.reason, 'ECONNRESET', `${what}: ended by a reset`);
}

describe('service: no flow of a source that is not allowed survives, forwarded ports included', function () {
  this.timeout(60000);
  let net: Topology;
  let ctr: Container;
  const servers: ChildProcess[] = [];
  let d: TestDaemon;
  let held: HeldConnection[] = [];
  const hold = (ns: string, host: string, port: number, from?: string) => {
    const h = holdConnection(ns, host, port, from);
    held.push(h);
    return h;
  };
  const daemon = async (overrides: Record<string, unknown> = {}) => {
    d = makeDaemon(net.nas, overrides);
    await d.start();
  };
  const enable = async () => {
    const r = await d.sipa('enable');
    assert.equal(r.code, 0, r.stderr);
  };

  before(async () => {
    net = makeTopology('flows');
    // Conntrack already runs on a NAS (QTS's own rules and NAT use it): flows opened before enable are tracked.
    for (const ipt of ['iptables-legacy', 'ip6tables-legacy']) {
      inNs(net.nas, ipt, ['-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT']);
    }
    ctr = addContainer(net);
    ctr.publish(PUBLISHED, PORT);
    servers.push(await startServer(net.nas, [PORT]), await startServer(net.remote, [OUTSIDE]), await startServer(ctr.ns, [PORT]));
  });
  after(() => {
    for (const s of servers) s.kill();
    ctr?.destroy();
    net?.destroy();
  });
  afterEach(async () => {
    for (const h of held) h.stop();
    held = [];
    await d.sipa('disable');
    await d.destroy();
  });

  it('resets, at their next packet, connections of unregistered remotes opened before `sipa enable` (IPv4, IPv6)', async () => {
    await daemon();
    const before = FAMILIES.map(f => hold(net.remote, net.nasAddr[f], PORT));
    for (const h of before) assert.equal(await h.connected, true, 'open while not enforcing');
    const t0 = Date.now();
    await enable();
    for (const [i, h] of before.entries()) await diesWithin(h, t0, 3000, `IPv${FAMILIES[i]} connection from before enable`);
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'timeout');
  });

  it('keeps the connections the NAS starts to the internet, opened before and after enable, with their replies', async () => {
    await daemon();
    const before = FAMILIES.map(f => hold(net.nas, net.remoteAddr[f], OUTSIDE));
    for (const h of before) assert.equal(await h.connected, true);
    await enable();
    const after = FAMILIES.map(f => hold(net.nas, net.remoteAddr[f], OUTSIDE));
    for (const h of after) assert.equal(await h.connected, true, 'the NAS connects out while enforcing');
    for (const f of FAMILIES) assert.equal(await tryConnect(net.nas, net.remoteAddr[f], OUTSIDE), 'connected');
    for (const h of [...before, ...after]) assert.equal(await stillAlive(h, 300), 'alive', 'echoes keep coming back');
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'timeout', 'while the remote itself is refused');
  });

  it('revoking a registered network resets its held connection and cuts its tracked flows', async () => {
    await daemon({ policy: { minSeconds: 1, allowPrefixes: true } });
    await enable();
    const reg = await d.sipa('register', '203.0.113.0/24', '--for', '10m');
    assert.equal(reg.code, 0, reg.stderr);
    const id = /registered device (\d+)/.exec(reg.stdout)![1];
    const h = hold(net.remote, net.nasAddr[4], PORT);
    assert.equal(await h.connected, true);
    const established = () => inNs(net.nas, 'conntrack', ['-L', '-p', 'tcp', '-s', net.remoteAddr[4], '--dport', String(PORT), '--state', 'ESTABLISHED'])
      .split('\n').filter(Boolean).length;
    assert.equal(established(), 1);
    const t0 = Date.now();
    const rev = await d.sipa('revoke', id);
    assert.equal(rev.code, 0, rev.stderr);
    assert.equal(established(), 0, 'the network\'s flow was cut from the conntrack table');
    await diesWithin(h, t0, 1500, 'held connection of the revoked network');
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'timeout');
  });

  it('a device that expired while the daemon was stopped has lost its held connection', async () => {
    await daemon();
    await enable();
    const t0 = Date.now();
    assert.equal((await d.sipa('register', net.remoteAddr[4], '--for', '3s')).code, 0);
    const h = hold(net.remote, net.nasAddr[4], PORT);
    assert.equal(await h.connected, true);
    await d.stop('SIGTERM');
    await new Promise(r => setTimeout(r, Math.max(0, t0 + 3500 - Date.now())));
    await d.start();
    await until('booked as expired', async () => {
      const all = await d.sipaJson<Device[]>('list', '--all');
      return all.some(x => x.address === net.remoteAddr[4] && x.state === 'expired');
    }, 3000);
    const dead = await Promise.race([h.dead, new Promise<null>(r => setTimeout(() => r(null), 1000))]);
    assert.ok(dead, 'the connection of the expired device is still open after the restart');
    assert.equal(dead.reason, 'ECONNRESET');
    assert.ok(dead.atMs - t0 < 4500, `died ${dead.atMs - t0} ms after a 3 s registration began`);
  });

  for (const f of FAMILIES) {
    it(`protects a port the NAS forwards to a container: refused, registered, revoked, LAN, routed (IPv${f})`, async () => {
      await daemon();
      await enable();
      const published = () => tryConnect(net.remote, net.nasAddr[f], PUBLISHED);
      assert.equal(await published(), 'timeout', 'unregistered remote at NAS:9090');
      assert.equal(await tryConnect(net.router, net.nasAddr[f], PUBLISHED), 'connected', 'a LAN host at NAS:9090');
      assert.equal(await tryConnect(net.remote, ctr.addr[f], PORT), 'connected', 'routed to the container without DNAT');
      const reg = await d.sipa('register', net.remoteAddr[f], '--for', '10m');
      assert.equal(reg.code, 0, reg.stderr);
      assert.equal(await published(), 'connected', 'registered remote at NAS:9090');
      const h = hold(net.remote, net.nasAddr[f], PUBLISHED);
      assert.equal(await h.connected, true);
      const t0 = Date.now();
      assert.equal((await d.sipa('revoke', net.remoteAddr[f])).code, 0);
      await diesWithin(h, t0, 1500, 'held forwarded connection of the revoked device');
      assert.equal(await published(), 'timeout');
    });
  }

  it('repairs a deleted FORWARD jump within 5 s, and disable removes the forward chain', async () => {
    await daemon();
    await enable();
    // (that the port is open while the jump is gone is test/kernel/forward.test.ts's: the reconciler may be faster)
    inNs(net.nas, 'iptables-legacy', ['-D', 'FORWARD', '-m', 'conntrack', '--ctstate', 'DNAT', '-j', 'SIPA_FORWARD']);
    await until('repaired', async () => {
      const audit = await d.sipaJson<AuditEntry[]>('audit', '--limit', '5');
      return audit.some(a => a.action === 'repaired' && /FORWARD/.test(a.detail ?? ''));
    }, 5000, 100);
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PUBLISHED), 'timeout', 'closed again');
    assert.equal((await d.sipa('disable')).code, 0);
    for (const save of ['iptables-legacy-save', 'ip6tables-legacy-save']) assert.doesNotMatch(inNs(net.nas, save, []), /SIPA/);
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PUBLISHED), 'connected');
  });
});
