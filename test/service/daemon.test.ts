// The service as an admin drives it: the real daemon enforcing inside a test NAS namespace, the real `sipa`
// CLI, a remote device behind a router and a LAN peer.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { holdConnection, inNs, makeTopology, startServer, Topology, tryConnect } from '../../scripts/lib/netns';
import { makeDaemon, TestDaemon } from '../../scripts/lib/daemon';
import { until } from '../../scripts/lib/wait';
import { Store } from '../../module/store';
import type { AuditEntry, Device, Status } from '../../module/engine/contract';
import { runtimeSupport } from '../../module/cli/runtime-support';

const PORT = 8080;
describe('service: daemon + sipa against the real kernel', function () {
  this.timeout(60000);
  let net: Topology;
  let server: ChildProcess;
  let d: TestDaemon;
  const remote = () => tryConnect(net.remote, net.nasAddr[4], PORT);

  before(async () => {
    net = makeTopology('svc');
    server = await startServer(net.nas, [PORT]);
  });
  after(() => {
    server?.kill();
    net?.destroy();
  });
  beforeEach(async () => {
    d = makeDaemon(net.nas);
    await d.start();
    const r = await d.sipa('enable');
    assert.equal(r.code, 0, r.stderr);
  });
  afterEach(async () => {
    await d.sipa('disable');
    await d.destroy();
    // whatever a test left behind in the namespace goes with the next daemon's enable
  });

  it('refuses a remote device until `sipa register`, then `sipa revoke` kills its open connection', async () => {
    assert.equal(await remote(), 'timeout');
    const reg = await d.sipa('register', net.remoteAddr[4], '--for', '10m', '--label', 'phone');
    assert.equal(reg.code, 0, reg.stderr);
    assert.match(reg.stdout, /registered device \d+: 203\.0\.113\.10/);
    assert.equal(await remote(), 'connected');
    const held = holdConnection(net.remote, net.nasAddr[4], PORT);
    assert.equal(await held.connected, true);
    const t0 = Date.now();
    const rev = await d.sipa('revoke', net.remoteAddr[4], '--reason', 'lost phone');
    assert.equal(rev.code, 0, rev.stderr);
    const dead = await held.dead;
    assert.ok(dead.atMs - t0 < 1500, `died ${dead.atMs - t0} ms after the revoke command started`);
    assert.equal(await remote(), 'timeout');
    const audit = await d.sipaJson<AuditEntry[]>('audit');
    assert.equal(audit[0].action, 'revoke');
    assert.equal(audit[0].detail, 'lost phone');
    assert.equal(audit[0].surface, 'cli');
  });

  it('ends a 3 s registration on time and books it as expired', async () => {
    await d.sipa('register', net.remoteAddr[4], '--for', '3s');
    const t0 = Date.now();
    assert.equal(await remote(), 'connected');
    await until('access ends', async () => (await remote()) !== 'connected', 6000, 100);
    const took = Date.now() - t0;
    assert.ok(Date.now() - t0 >= 2000, 'not before its time');
    assert.ok(took < 5000, `ended ${took} ms after the start`);
    await until('booked as expired', async () => {
      const all = await d.sipaJson<Device[]>('list', '--all');
      return all.some(x => x.address === net.remoteAddr[4] && x.state === 'expired');
    }, 3000);
  });

  it('keeps enforcing after kill -9, and a restart yields the same state', async () => {
    await d.sipa('register', net.remoteAddr[4], '--for', '10m');
    const before = await d.sipaJson<Device[]>('list');
    await d.stop('SIGKILL');
    assert.equal(await remote(), 'connected', 'registered device still allowed with no daemon');
    assert.equal(await tryConnect(net.remote, net.nasAddr[6], PORT), 'timeout', 'others still refused with no daemon');
    await d.start();
    const after = await d.sipaJson<Device[]>('list');
    assert.deepEqual(after.map(x => [x.id, x.address, x.state, x.expiresAt]), before.map(x => [x.id, x.address, x.state, x.expiresAt]));
    assert.equal(await remote(), 'connected');
  });

  it('restores entries with their remaining time after a simulated reboot', async () => {
    await d.sipa('register', net.remoteAddr[4], '--for', '10m');
    await d.stop('SIGKILL');
    // the reboot: every rule and set is gone
    for (const t of ['iptables-legacy', 'ip6tables-legacy']) {
      inNs(net.nas, t, ['-F']);
      inNs(net.nas, t, ['-X']);
    }
    inNs(net.nas, 'ipset', ['destroy']);
    assert.equal(await tryConnect(net.remote, net.nasAddr[6], PORT), 'connected', 'wide open after the "reboot"');
    await d.start();
    const listing = inNs(net.nas, 'ipset', ['list', 'sipa4_allow']);
    const m = /203\.0\.113\.10 timeout (\d+)/.exec(listing);
    assert.ok(m, listing);
    assert.ok(Number(m![1]) > 590 && Number(m![1]) <= 600, `remaining ${m![1]} s`);
    assert.equal(await remote(), 'connected');
    assert.equal(await tryConnect(net.remote, net.nasAddr[6], PORT), 'timeout');
  });

  for (const [what, damage] of [
    ['iptables -F of its chain', () => inNs(net.nas, 'iptables-legacy', ['-F', 'SIPA_INPUT'])],
    ['a deleted jump', () => inNs(net.nas, 'iptables-legacy', ['-D', 'INPUT', '-j', 'SIPA_INPUT'])],
    ['ipset destroy of the allow set', () => {
      inNs(net.nas, 'iptables-legacy-restore', ['--noflush'], '*filter\n-F SIPA_INPUT\n-F SIPA_OUTPUT\n-F SIPA_FORWARD\nCOMMIT\n');
      inNs(net.nas, 'ipset', ['destroy', 'sipa4_allow']);
    }],
    ['a flushed allow set', () => inNs(net.nas, 'ipset', ['flush', 'sipa4_allow'])],
  ] as Array<[string, () => void]>) {
    it(`repairs ${what} within 5 s and audits it`, async () => {
      await d.sipa('register', net.remoteAddr[4], '--for', '10m');
      damage();
      const t0 = Date.now();
      await until('repaired', async () => {
        const audit = await d.sipaJson<AuditEntry[]>('audit', '--limit', '5');
        return audit.some(a => a.action === 'repaired');
      }, 5000, 100);
      assert.ok(Date.now() - t0 <= 5000, `repaired after ${Date.now() - t0} ms`);
      assert.equal(await tryConnect(net.remote, net.nasAddr[6], PORT), 'timeout', 'closed again');
      assert.equal(await remote(), 'connected', 'the registered device is allowed again');
    });
  }

  it('never blocks the LAN', async () => {
    assert.equal(await tryConnect(net.router, net.nasAddr[4], PORT), 'connected');
    assert.equal(await tryConnect(net.router, net.nasAddr[6], PORT), 'connected');
    const s = await d.sipaJson<Status>('status');
    assert.deepEqual(s.lanNetworks, ['192.0.2.0/24', '2001:db8:1::/64']);
  });

  it('follows the LAN as interface addresses change, and reloads the config on SIGHUP', async () => {
    const lanSet = () => inNs(net.nas, 'ipset', ['list', 'sipa4_lan']);
    inNs(net.nas, 'ip', ['link', 'add', 'lan1', 'type', 'veth', 'peer', 'name', 'lan1p']);
    try {
      inNs(net.nas, 'ip', ['addr', 'add', '198.51.100.1/24', 'dev', 'lan1']);
      inNs(net.nas, 'ip', ['link', 'set', 'lan1', 'up']);
      await until('new LAN network learned', async () => /198\.51\.100\.0\/24/.test(lanSet()), 3000);
      inNs(net.nas, 'ip', ['addr', 'del', '198.51.100.1/24', 'dev', 'lan1']);
      await until('old LAN network dropped', async () => !/198\.51\.100\.0\/24/.test(lanSet()), 3000);
    } finally {
      inNs(net.nas, 'ip', ['link', 'del', 'lan1']);
    }
    fs.writeFileSync(d.configPath, JSON.stringify({ ...d.config, firewall: { extraLan: ['203.0.113.0/28'] } }));
    d.process!.kill('SIGHUP');
    await until('extra LAN from the reloaded config', async () => /203\.0\.113\.0\/28/.test(lanSet()), 3000);
    assert.equal(await remote(), 'connected', '203.0.113.10 is inside the configured LAN now');
    fs.writeFileSync(d.configPath, JSON.stringify({ ...d.config, firewall: { action: 'block' } }));
    d.process!.kill('SIGHUP');
    await until('refusal logged', async () => d.log.some(l => l.includes('config reload refused')), 3000);
    assert.match(lanSet(), /203\.0\.113\.0\/28/, 'a bad config changes nothing');
  });

  it('recovers active entries from the kernel when the store file is damaged', async () => {
    await d.sipa('register', net.remoteAddr[4], '--for', '10m');
    await d.stop('SIGTERM');
    const file = path.join(d.dir, 'data', 'sipa.db');
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 0);
    fs.closeSync(fd);
    await d.start();
    const s = await d.sipaJson<Status>('status');
    assert.match(s.storeRecovered ?? '', /damaged.*1 active entries were recovered from the kernel/);
    assert.equal(s.enabled, true);
    const list = await d.sipaJson<Device[]>('list');
    assert.deepEqual(list.map(x => x.address), [net.remoteAddr[4]]);
    assert.equal(await remote(), 'connected');
    const audit = await d.sipaJson<AuditEntry[]>('audit');
    assert.ok(audit.some(a => a.action === 'store-recovered'));
  });

  it('revokes timed entries at start when the clock went backwards, and says so', async () => {
    await d.sipa('register', net.remoteAddr[4], '--for', '10m');
    await d.stop('SIGKILL');
    inNs(net.nas, 'ipset', ['flush', 'sipa4_allow']); // a reboot: no kernel entry to trust
    // the last time the service saw is an hour ahead of this clock
    const { store } = await Store.open({ dataDir: path.join(d.dir, 'data'), now: () => Date.now() + 3_600_000 });
    await store.appendAudit({ actor: { surface: 'system', name: 'test' }, action: 'note', detail: 'clock marker' });
    await store.close();
    await d.start();
    const s = await d.sipaJson<Status>('status');
    assert.equal(s.clockTrusted, false);
    const all = await d.sipaJson<Device[]>('list', '--all');
    assert.equal(all[0].state, 'revoked');
    assert.match(all[0].endReason ?? '', /clock/);
    assert.equal(await remote(), 'timeout');
  });

  it('refuses bad CLI input with exit 2 and a sentence, and changes nothing', async () => {
    await d.sipa('register', net.remoteAddr[4], '--for', '10m');
    const before = await d.sipaJson<Device[]>('list', '--all');
    const cases: Array<[string[], RegExp]> = [
      [['register', '127.1', '--for', '1m'], /not a valid address/],
      [['register', '203.0.113.5'], /one of --for DURATION, --session ID or --until-revoked/],
      [['register', '203.0.113.5', '--for', '0'], /duration|0/i],
      [['register', '203.0.113.5', '--for', '13h'], /maximum|above/i],
      [['register', '203.0.113.5', '--for', '1m', '--label', 'x'.repeat(100)], /label/],
      [['frobnicate'], /unknown command/],
      [['list', '--bogus'], /bogus/],
      [['audit', '--limit', 'many'], /--limit/],
    ];
    for (const [args, message] of cases) {
      const r = await d.sipa(...args);
      assert.equal(r.code, 2, `sipa ${args.join(' ')} → ${r.code} ${r.stderr}`);
      assert.match(r.stderr, message, `sipa ${args.join(' ')}`);
    }
    assert.equal((await d.sipa('revoke', '9999')).code, 4);
    assert.deepEqual(await d.sipaJson<Device[]>('list', '--all'), before);
  });

  it('refuses a bad config with the path at fault, and a second daemon', async () => {
    const bad = path.join(d.dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ ...d.config, firewall: { action: 'block' } }));
    const { cli } = await import('../../scripts/lib/daemon');
    const r = await cli(bad, ['daemon']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /firewall\.action must be one of "drop", "reject"/);
    const second = await d.sipa('daemon');
    assert.equal(second.code, 1);
    assert.match(second.stderr, /another sipa daemon is running/);
    assert.equal((await d.sipaJson<Status>('status')).enabled, true, 'the running daemon is unaffected');
  });

  it('says which Node.js it runs on and until when that line gets security fixes (status, doctor)', async () => {
    const s = await d.sipaJson<Status>('status');
    assert.deepEqual(s.runtime, runtimeSupport(process.version));
    assert.match((await d.sipa('status')).stdout, new RegExp(`runtime: +Node\\.js ${process.version.replace(/\./g, '\\.')}, supported until \\d{4}-\\d\\d-\\d\\d`));
    const doctor = JSON.parse((await d.sipa('doctor', '--json')).stdout) as { findings: Array<{ check: string; ok: boolean; detail: string }> };
    const runtime = doctor.findings.find(f => f.check === 'runtime');
    assert.ok(runtime?.ok);
    assert.match(runtime.detail, /supported until/);
  });

  it('disable removes every rule and set it made', async () => {
    const r = await d.sipa('disable');
    assert.equal(r.code, 0);
    assert.doesNotMatch(inNs(net.nas, 'iptables-legacy-save', []), /SIPA/);
    assert.doesNotMatch(inNs(net.nas, 'ip6tables-legacy-save', []), /SIPA/);
    assert.equal(inNs(net.nas, 'ipset', ['list', '-n']).trim(), '');
    assert.equal(await remote(), 'connected');
  });
});

describe('service: sipa uninstall-cleanup', function () {
  this.timeout(30000);
  it('removes every rule and set, the store and the run dir; refuses folders that are not its own', async () => {
    const { makeTopology } = await import('../../scripts/lib/netns');
    const net = makeTopology('unin');
    const d = makeDaemon(net.nas);
    try {
      await d.start();
      await d.sipa('enable');
      await d.sipa('register', '203.0.113.10', '--for', '10m');
      await d.stop('SIGTERM');
      assert.match(inNs(net.nas, 'iptables-legacy-save', []), /SIPA_INPUT/, 'enforcement stays after the daemon stops');
      const r = await d.sipa('uninstall-cleanup');
      assert.equal(r.code, 0, r.stderr);
      for (const save of ['iptables-legacy-save', 'ip6tables-legacy-save']) assert.doesNotMatch(inNs(net.nas, save, []), /SIPA/);
      assert.equal(inNs(net.nas, 'ipset', ['list', '-n']).trim(), '');
      assert.equal(fs.existsSync(path.join(d.dir, 'data')), false);
      assert.equal(fs.existsSync(path.join(d.dir, 'run')), false);
      const bad = path.join(d.dir, 'bad.json');
      fs.writeFileSync(bad, JSON.stringify({ ...d.config, dataDir: '/share' }));
      const { cli } = await import('../../scripts/lib/daemon');
      const refused = await cli(bad, ['uninstall-cleanup']);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /not removing \/share/);
    } finally {
      await d.destroy();
      net.destroy();
    }
  });
});
