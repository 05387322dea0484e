// A device, not one address: a dual-stack remote registered with both its addresses gets in over either family
// and is cut over both when revoked by either; IPv6 scope /64 lets a new temporary address in, /128 does not
// until the address is added, and adding it never moves the expiry. Real daemon, real kernel, namespaces.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import { holdConnection, inNs, makeTopology, startServer, Topology, tryConnect } from '../../scripts/lib/netns';
import { makeDaemon, TestDaemon } from '../../scripts/lib/daemon';
import { apiRequest } from '../../module/cli/client';
import { socketPath } from '../../module/cli/paths';
import type { Device, Status } from '../../module/engine/contract';

const PORT = 8080;
const TEMPORARY = '2001:db8:2::99'; // a new temporary address of the remote, in the same /64

describe('service: a device with several addresses (dual stack, IPv6 scope)', function () {
  this.timeout(60000);
  let net: Topology;
  let server: ChildProcess;
  let d: TestDaemon;
  const v4 = (from?: string) => tryConnect(net.remote, net.nasAddr[4], PORT, from ? { from } : {});
  const v6 = (from?: string) => tryConnect(net.remote, net.nasAddr[6], PORT, from ? { from } : {});

  before(async () => {
    net = makeTopology('addrs');
    net.addRemoteAddress(TEMPORARY);
    server = await startServer(net.nas, [PORT]);
  });
  after(() => {
    server?.kill();
    net?.destroy();
  });
  afterEach(async () => {
    await d?.sipa('disable');
    await d?.destroy();
  });
  async function daemon(ipv6Scope: 'address' | 'network'): Promise<void> {
    d = makeDaemon(net.nas, { policy: { minSeconds: 1, ipv6Scope } });
    await d.start();
    assert.equal((await d.sipa('enable')).code, 0);
  }

  it('registered with both addresses, it gets in over IPv4 and IPv6; a revoke by either ends and cuts both', async () => {
    await daemon('address');
    const r = await d.sipa('register', net.remoteAddr[6], net.remoteAddr[4], '--for', '10m', '--label', 'laptop');
    assert.equal(r.code, 0, r.stderr);
    const [device] = await d.sipaJson<Device[]>('list');
    assert.deepEqual(device.addresses, [net.remoteAddr[6], net.remoteAddr[4]]);
    assert.match(inNs(net.nas, 'ipset', ['list', 'sipa4_allow']), /203\.0\.113\.10 timeout/);
    assert.equal(await v4(), 'connected');
    assert.equal(await v6(net.remoteAddr[6]), 'connected');
    const held4 = holdConnection(net.remote, net.nasAddr[4], PORT);
    const held6 = holdConnection(net.remote, net.nasAddr[6], PORT, net.remoteAddr[6]);
    assert.deepEqual(await Promise.all([held4.connected, held6.connected]), [true, true]);
    const rev = await d.sipa('revoke', net.remoteAddr[6]);
    assert.equal(rev.code, 0, rev.stderr);
    await Promise.all([held4.dead, held6.dead]);
    assert.equal(await v4(), 'timeout');
    assert.equal(await v6(net.remoteAddr[6]), 'timeout');
    const all = await d.sipaJson<Device[]>('list', '--all');
    assert.deepEqual(all.map(x => [x.id, x.state]), [[device.id, 'revoked']]);
  });

  it('refuses a second IPv4 address and an address another device holds, naming it', async () => {
    await daemon('address');
    const two = await d.sipa('register', '203.0.113.10', '203.0.113.11', '--for', '10m');
    assert.equal(two.code, 4);
    assert.match(two.stderr, /at most one IPv4/);
    assert.equal((await d.sipa('register', net.remoteAddr[4], '--for', '10m')).code, 0);
    const held = await d.sipa('register', net.remoteAddr[6], net.remoteAddr[4], '--for', '10m');
    assert.equal(held.code, 4);
    assert.match(held.stderr, /203\.0\.113\.10 is already an address of device/);
  });

  it('with the /64 scope a new temporary address in the same /64 gets in', async () => {
    await daemon('network');
    assert.equal((await d.sipaJson<Status>('status')).ipv6Scope, 'network');
    assert.equal((await d.sipa('register', net.remoteAddr[6], '--for', '10m')).code, 0);
    assert.match(inNs(net.nas, 'ipset', ['list', 'sipa6_allow']), /2001:db8:2::\/64 timeout/);
    assert.equal(await v6(TEMPORARY), 'connected');
    assert.equal(await v4(), 'timeout', 'IPv4 was not registered');
  });

  it('with the /128 scope a new address gets in only once it is added, and adding it leaves the expiry as it was', async () => {
    await daemon('address');
    assert.equal((await d.sipa('register', net.remoteAddr[6], '--for', '10m')).code, 0);
    const [before] = await d.sipaJson<Device[]>('list');
    assert.equal(await v6(TEMPORARY), 'timeout');
    const sock = socketPath(d.config.runDir as string);
    const { device } = await apiRequest<{ device: Device }>(sock, 'POST', `/api/v1/devices/${before.id}/addresses`, { address: TEMPORARY });
    assert.deepEqual(device.addresses, [net.remoteAddr[6], TEMPORARY]);
    assert.equal(device.expiresAt, before.expiresAt, 'the expiry did not move');
    assert.equal(await v6(TEMPORARY), 'connected');
    const timeouts = [...inNs(net.nas, 'ipset', ['list', 'sipa6_allow']).matchAll(/^2001:\S+ timeout (\d+)/gm)].map(m => Number(m[1]));
    assert.equal(timeouts.length, 2);
    assert.ok(Math.max(...timeouts) <= 600, `no entry outlives the registration: ${timeouts}`);
  });
});
