// Registrations until revoked against the real kernel: the real daemon enforcing in a test NAS namespace, the
// real `sipa` CLI, a remote device behind a router. The entry is permanent (timeout 0 in the allow set, which has
// timeouts); the reconciler leaves it as it is and puts it back when something gives it a timeout; a restart
// restores it; a revoke deletes it and resets the device's connection.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { HeldConnection, holdConnection, inNs, makeTopology, startServer, Topology, tryConnect } from '../../scripts/lib/netns';
import { makeDaemon, TestDaemon } from '../../scripts/lib/daemon';
import { sleep, until } from '../../scripts/lib/wait';
import type { AuditEntry, Device } from '../../module/engine/contract';

const PORT = 8080;

describe('service: a device registered until revoked', function () {
  this.timeout(60000);
  let net: Topology;
  let server: ChildProcess;
  let d: TestDaemon;
  let held: HeldConnection[] = [];
  const hold = () => {
    const h = holdConnection(net.remote, net.nasAddr[4], PORT);
    held.push(h);
    return h;
  };
  /** `ipset list` of an allow set, in the NAS namespace. */
  const allowSet = (f: 4 | 6) => inNs(net.nas, 'ipset', ['list', `sipa${f}_allow`]);
  const repairs = async () => (await d.sipaJson<AuditEntry[]>('audit', '--limit', '50')).filter(a => a.action === 'repaired');

  before(async () => {
    net = makeTopology('forever');
    server = await startServer(net.nas, [PORT]);
  });
  after(() => {
    server?.kill();
    net?.destroy();
  });
  afterEach(async () => {
    for (const h of held) h.stop();
    held = [];
    await d.sipa('disable');
    await d.destroy();
  });

  it('is refused by `sipa register --until-revoked` where the policy does not allow it, naming the key', async () => {
    d = makeDaemon(net.nas);
    await d.start();
    const r = await d.sipa('register', net.remoteAddr[4], '--until-revoked');
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^sipa: registering until revoked is not allowed here: policy\.allowUntilRevoked is false/);
    assert.deepEqual(await d.sipaJson<Device[]>('list', '--all'), []);
    assert.match((await d.sipa('status')).stdout, /until revoked: +not allowed \(policy\.allowUntilRevoked is false\)/);
  });

  it('comes from a file too (`sipa register --from FILE` with until-revoked lines): refused whole, naming the line and the key, where the policy does not allow it; a permanent entry where it does', async () => {
    const file = () => {
      const f = path.join(d.dir, 'office.csv');
      fs.writeFileSync(f, `address,for,label\n198.51.100.77,1h,printer\n${net.remoteAddr[4]},until-revoked,office\n`);
      return f;
    };
    d = makeDaemon(net.nas);
    await d.start();
    const refused = await d.sipa('register', '--from', file());
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /1 of 2 items are not valid, so nothing was registered/);
    assert.match(refused.stderr, /line 3: .*policy\.allowUntilRevoked is false/);
    assert.deepEqual(await d.sipaJson<Device[]>('list', '--all'), []);
    await d.sipa('disable');
    await d.destroy();

    d = makeDaemon(net.nas, { policy: { allowUntilRevoked: true } });
    await d.start();
    assert.equal((await d.sipa('enable')).code, 0);
    const r = await d.sipa('register', '--from', file());
    assert.equal(r.code, 0, r.stderr);
    const listed = await d.sipaJson<Device[]>('list');
    assert.deepEqual(listed.map(x => [x.address, x.policy, x.expiresAt === null]).sort(), [
      ['198.51.100.77', 'fixed', false], [net.remoteAddr[4], 'until-revoked', true],
    ]);
    assert.match(allowSet(4), new RegExp(`${net.remoteAddr[4].replace(/\./g, '\\.')} timeout 0\\b`), 'a permanent kernel entry');
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'connected');
  });

  it('has a permanent entry that the reconciler keeps and repairs, a restart restores, and a revoke takes out with its connection', async () => {
    d = makeDaemon(net.nas, { policy: { minSeconds: 1, allowUntilRevoked: true } });
    await d.start();
    assert.equal((await d.sipa('enable')).code, 0);
    const reg = await d.sipa('register', net.remoteAddr[4], net.remoteAddr[6], '--until-revoked', '--label', 'office');
    assert.equal(reg.code, 0, reg.stderr);
    assert.match(reg.stdout, new RegExp(`^registered device \\d+: ${net.remoteAddr[4]} ${net.remoteAddr[6]} until revoked`));
    const escaped = net.remoteAddr[4].replace(/\./g, '\\.');
    assert.match(allowSet(4), new RegExp(`^${escaped} timeout 0$`, 'm'), 'no timeout: the kernel keeps it until it is deleted');
    assert.match(allowSet(6), /^2001:db8:2::\/64 timeout 0$/m, 'the device\'s /64, permanent too');
    assert.match((await d.sipa('list')).stdout, /until revoked +until revoked +local/);
    const [dev] = await d.sipaJson<Device[]>('list');
    assert.deepEqual([dev.policy, dev.expiresAt], ['until-revoked', null]);

    const first = hold();
    assert.equal(await first.connected, true);
    // Full checks every second: an entry without a timeout is what is wanted, not something to repair.
    await sleep(2500);
    assert.deepEqual(await repairs(), []);
    // Another component gives it a timeout (it would then end by itself): put back as it was.
    inNs(net.nas, 'ipset', ['add', 'sipa4_allow', net.remoteAddr[4], 'timeout', '30', '-exist']);
    const repair = await until('a "repaired" audit row', async () => (await repairs())[0], 5000, 100);
    assert.match(repair.detail, /IPv4 allow set holds 1 entry with a timeout not its own/);
    assert.match(allowSet(4), new RegExp(`^${escaped} timeout 0$`, 'm'));

    // A restart: the kernel kept it; a restart after the allow sets were emptied (as at boot) puts it back.
    assert.equal(await d.stop('SIGTERM'), 0);
    inNs(net.nas, 'ipset', ['flush', 'sipa4_allow']);
    await d.start();
    await until('the entry back in the allow set', async () => new RegExp(`^${escaped} timeout 0$`, 'm').test(allowSet(4)) || undefined, 5000, 100);
    const [after] = await d.sipaJson<Device[]>('list');
    assert.deepEqual([after.id, after.state, after.expiresAt], [dev.id, 'active', null]);

    const second = hold();
    assert.equal(await second.connected, true);
    const flows = () => inNs(net.nas, 'conntrack', ['-L', '-p', 'tcp', '-s', net.remoteAddr[4], '--dport', String(PORT), '--state', 'ESTABLISHED'])
      .split('\n').filter(Boolean).length;
    assert.ok(flows() >= 1);
    const t0 = Date.now();
    const rev = await d.sipa('revoke', net.remoteAddr[4], '--reason', 'moved out');
    assert.equal(rev.code, 0, rev.stderr);
    assert.equal(flows(), 0, 'its tracked flows were cut');
    const dead = await Promise.race([second.dead, sleep(2500).then(() => null)]);
    assert.ok(dead && dead.atMs - t0 < 1500, 'the held connection was reset at once');
    assert.doesNotMatch(allowSet(4), new RegExp(`^${escaped} `, 'm'));
    assert.doesNotMatch(allowSet(6), /^2001:db8:2::\/64 /m);
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], PORT), 'timeout');
    const [ended] = await d.sipaJson<Device[]>('list', '--all');
    assert.deepEqual([ended.state, ended.endReason], ['revoked', 'moved out']);
  });
});
