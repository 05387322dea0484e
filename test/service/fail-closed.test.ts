// The promise under damage: while Secure IP Access is on, only `disable` ends enforcement. A damaged store, an
// unreadable row, a full partition, a reboot and a clock that jumped must each leave the NAS enforcing; the
// real daemon in a test NAS namespace, a remote device behind a router (the internet) and the router as a LAN host.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import sqlite3 from 'sqlite3';
import { holdConnection, inNs, makeTopology, startServer, Topology, tryConnect } from '../../scripts/lib/netns';
import { makeDaemon, TestDaemon } from '../../scripts/lib/daemon';
import { makeSmallFlash, SmallFlash } from '../../scripts/lib/flash';
import { sleep, until } from '../../scripts/lib/wait';
import { Store } from '../../module/store';
import type { AuditEntry, Device, Status } from '../../module/engine/contract';

const PORT = 8080;
const SECOND_REMOTE = '203.0.113.11';

/** What a reboot does to the kernel: every rule and set is gone. */
function reboot(ns: string): void {
  for (const t of ['iptables-legacy', 'ip6tables-legacy']) {
    inNs(ns, t, ['-F']);
    inNs(ns, t, ['-X']);
  }
  inNs(ns, 'ipset', ['destroy']);
}

function sql(file: string, statements: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, err => {
      if (err) return reject(err);
      db.serialize(() => {
        for (const s of statements) db.run(s, e => e && reject(e));
        db.close(e => (e ? reject(e) : resolve()));
      });
    });
  });
}

describe('service: fails closed (damage, full flash, reboots, clock)', function () {
  this.timeout(90000);
  let net: Topology;
  let server: ChildProcess;
  let d: TestDaemon;
  const remote = (from?: string) => tryConnect(net.remote, net.nasAddr[4], PORT, from ? { from } : {});
  const lanHost = () => tryConnect(net.router, net.nasAddr[4], PORT);

  before(async () => {
    net = makeTopology('fc');
    net.addRemoteAddress(SECOND_REMOTE);
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

  describe('the store cannot switch enforcement off', () => {
    beforeEach(async () => {
      d = makeDaemon(net.nas);
      await d.start();
      assert.equal((await d.sipa('enable')).code, 0);
    });

    it('a store damaged across a reboot keeps the NAS enforcing, and says so in status, doctor and the system log', async () => {
      await d.stop('SIGTERM');
      const file = path.join(d.dir, 'data', 'sipa.db');
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 0);
      fs.closeSync(fd);
      reboot(net.nas);
      assert.equal(await remote(), 'connected', 'open after the "reboot", before the daemon starts');
      await d.start();
      const s = await d.sipaJson<Status>('status');
      assert.equal(s.enabled, true);
      assert.equal(s.enforcing, true);
      assert.match(s.storeRecovered ?? '', /damaged.*enforcement stays on/);
      assert.equal(await remote(), 'timeout', 'an unregistered remote is refused');
      assert.equal(await lanHost(), 'connected', 'the LAN is not');
      const doctor = await d.sipa('doctor');
      assert.equal(doctor.code, 1);
      assert.match(doctor.stdout, /FAIL store: the store was damaged/);
      assert.ok(d.log.some(l => l.includes('"systemLog":true') && l.includes('damaged')), 'the NAS event log is told');
    });

    it('a damaged on/off record is a doubt, and a doubt enforces', async () => {
      await d.stop('SIGTERM');
      fs.writeFileSync(path.join(d.dir, 'data', 'sipa.enforce'), '{"enfo');
      reboot(net.nas);
      await d.start();
      const s = await d.sipaJson<Status>('status');
      assert.equal(s.enforcing, true);
      assert.equal(await remote(), 'timeout');
      assert.equal(await lanHost(), 'connected');
    });

    it('an unreadable device row is set aside (audited, shown in doctor) and the rest are enforced, also after a reboot', async () => {
      assert.equal((await d.sipa('register', net.remoteAddr[4], '--for', '10m')).code, 0);
      assert.equal((await d.sipa('register', SECOND_REMOTE, '--for', '10m')).code, 0);
      assert.equal((await d.sipa('register', '203.0.113.12', '--for', '10m')).code, 0);
      await d.stop('SIGTERM');
      await sql(path.join(d.dir, 'data', 'sipa.db'), [
        'PRAGMA ignore_check_constraints = 1',
        `UPDATE devices SET family = 5 WHERE address = '${SECOND_REMOTE}'`,
        // a hand edit that would let the whole internet in
        "UPDATE devices SET address = '0.0.0.0/0', prefix = 0 WHERE address = '203.0.113.12'",
      ]);
      reboot(net.nas);
      await d.start();
      const s = await d.sipaJson<Status>('status');
      assert.equal(s.enforcing, true);
      assert.equal(s.quarantinedRows, 2);
      assert.equal(await remote(), 'connected', 'the readable device is enforced as registered');
      assert.equal(await remote(SECOND_REMOTE), 'timeout', 'the unreadable one is not trusted');
      assert.deepEqual((await d.sipaJson<Device[]>('list')).map(x => x.address), [net.remoteAddr[4]]);
      const audit = await d.sipaJson<AuditEntry[]>('audit');
      assert.ok(audit.some(a => a.action === 'quarantine' && /unknown family 5/.test(a.detail)), JSON.stringify(audit.slice(0, 3)));
      const doctor = await d.sipa('doctor');
      assert.match(doctor.stdout, /FAIL unreadable rows: 2 device row/);
      assert.ok(audit.some(a => a.action === 'quarantine' && /0\.0\.0\.0\/0/.test(a.detail)), 'the /0 row is set aside too');
      // set aside for good: the next start finds nothing to quarantine
      await d.stop('SIGTERM');
      await d.start();
      assert.equal((await d.sipaJson<Status>('status')).quarantinedRows, 0);
    });
  });

  describe('a full flash partition', () => {
    let flash: SmallFlash;
    beforeEach(async () => {
      const dir = fs.mkdtempSync('/tmp/sipa-flash-');
      flash = makeSmallFlash(dir, 1024);
      d = makeDaemon(net.nas, { dataDir: flash.dir }, { wrap: flash.wrap });
      await d.start();
    });
    afterEach(() => {
      flash?.destroy();
      fs.rmSync(flash.dir, { recursive: true, force: true });
    });
    const noReserve = () => flash.run('rm', ['-f', path.join(flash.dir, 'sipa.reserve')]);

    it('an enable that cannot be recorded changes nothing, now or after a restart', async () => {
      noReserve();
      flash.fill();
      const r = await d.sipa('enable');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot enable: .*full.*nothing was changed/);
      const s = await d.sipaJson<Status>('status');
      assert.equal(s.enabled, false);
      assert.equal(s.enforcing, false);
      assert.equal(await remote(), 'connected', 'as it was: off');
      await d.stop('SIGTERM');
      await d.start();
      assert.equal((await d.sipaJson<Status>('status')).enabled, false);
      flash.free();
      assert.equal((await d.sipa('enable')).code, 0, 'works once there is room');
      assert.equal(await remote(), 'timeout');
    });

    it('a reboot with the partition full and an expiry to book enforces first and books later', async () => {
      assert.equal((await d.sipa('enable')).code, 0);
      assert.equal((await d.sipa('register', net.remoteAddr[4], '--for', '2s')).code, 0);
      await d.stop('SIGTERM');
      noReserve();
      flash.fill();
      await sleep(2500);
      reboot(net.nas);
      await d.start();
      const s = await d.sipaJson<Status>('status');
      assert.equal(s.enforcing, true);
      assert.equal(s.unrecordedEnds, 1);
      assert.match(s.storageFull ?? '', /full/);
      assert.equal(await remote(), 'timeout', 'the expired device is refused');
      assert.equal(await remote(SECOND_REMOTE), 'timeout', 'and so is anyone else');
      assert.equal(await lanHost(), 'connected');
      const doctor = await d.sipa('doctor');
      assert.match(doctor.stdout, /FAIL storage: the data partition .* full/);
      flash.free();
      await until('the expiry is booked once there is room', async () => {
        const all = await d.sipaJson<Device[]>('list', '--all');
        return all.some(x => x.address === net.remoteAddr[4] && x.state === 'expired');
      }, 10000, 250);
      assert.equal((await d.sipaJson<Status>('status')).storageFull, null);
    });

    it('a revoke on a full partition takes effect, cuts the flow and survives a reboot', async () => {
      assert.equal((await d.sipa('enable')).code, 0);
      assert.equal((await d.sipa('register', net.remoteAddr[4], '--for', '10m')).code, 0);
      const held = holdConnection(net.remote, net.nasAddr[4], PORT);
      assert.equal(await held.connected, true);
      flash.fill();
      const r = await d.sipa('revoke', net.remoteAddr[4]);
      assert.equal(r.code, 0, r.stderr);
      await held.dead;
      assert.equal(await remote(), 'timeout');
      await d.stop('SIGKILL');
      reboot(net.nas);
      await d.start();
      assert.equal(await remote(), 'timeout', 'still revoked after the reboot');
      const all = await d.sipaJson<Device[]>('list', '--all');
      assert.equal(all.find(x => x.address === net.remoteAddr[4])?.state, 'revoked');
    });

    it('an expiry that cannot be recorded is retried with back-off, not in a loop', async () => {
      assert.equal((await d.sipa('enable')).code, 0);
      assert.equal((await d.sipa('register', net.remoteAddr[4], '--for', '1s')).code, 0);
      noReserve();
      flash.fill();
      await sleep(4000);
      const complaints = d.log.filter(l => /cannot record|could not book/.test(l)).length;
      assert.ok(complaints >= 1 && complaints <= 2, `${complaints} log lines about the failed booking in 3 s`);
      assert.equal((await d.sipaJson<Status>('status')).unrecordedEnds, 1);
      assert.equal(await remote(), 'timeout');
    });
  });

  it('a clock that jumped back is distrusted at one start only: the next start trusts it again', async () => {
    d = makeDaemon(net.nas);
    await d.start();
    assert.equal((await d.sipa('enable')).code, 0);
    assert.equal((await d.sipa('register', net.remoteAddr[4], '--for', '10m')).code, 0);
    await d.stop('SIGTERM');
    // one boot with the clock ten years ahead left its time in the store
    const { store } = await Store.open({ dataDir: path.join(d.dir, 'data'), now: () => Date.now() + 10 * 365 * 86_400_000 });
    await store.appendAudit({ actor: { surface: 'system', name: 'test' }, action: 'note', detail: 'written by a clock 10 years ahead' });
    await store.close();
    reboot(net.nas);
    await d.start();
    const first = await d.sipaJson<Status>('status');
    assert.equal(first.clockTrusted, false);
    assert.match(first.clockNote ?? '', /went backwards.*next start trusts it/);
    assert.equal(await remote(), 'timeout', 'timed access was revoked, not extended');
    assert.match((await d.sipa('doctor')).stdout, /FAIL clock: not trusted at start: .*next start trusts it/);
    await d.stop('SIGTERM');
    reboot(net.nas);
    await d.start();
    assert.equal((await d.sipaJson<Status>('status')).clockTrusted, true);
    assert.equal((await d.sipa('register', net.remoteAddr[4], '--for', '10m')).code, 0);
    await d.stop('SIGTERM');
    reboot(net.nas);
    await d.start();
    assert.equal((await d.sipaJson<Status>('status')).clockTrusted, true);
    assert.equal(await remote(), 'connected', 'a device registered under the right clock survives a reboot');
  });
});
