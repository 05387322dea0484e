// Many devices at once, as an admin's script would: `sipa register --from FILE` (all or nothing, bad lines named),
// `sipa revoke --from FILE` (flows cut), and `sipa list --json` of them all, against the real kernel.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { holdConnection, inNs, makeTopology, startServer, Topology, tryConnect } from '../../scripts/lib/netns';
import { makeDaemon, TestDaemon } from '../../scripts/lib/daemon';
import type { Device } from '../../module/engine/contract';

const PORT = 8080;
const COUNT = 5000;
/** Addresses of a documentation range that the test hosts do not use (203.0.113.100 .. ). */
const filler = (i: number) => `2001:db8:f::${(i + 1).toString(16)}`;

describe('service: batch registration and revocation', function () {
  this.timeout(90000);
  let net: Topology;
  let server: ChildProcess;
  let d: TestDaemon;
  const remote = () => tryConnect(net.remote, net.nasAddr[4], PORT);

  before(async () => {
    net = makeTopology('batch');
    server = await startServer(net.nas, [PORT]);
    // one kernel entry per filler address: the /128 scope (with the default /64 they would share one entry)
    d = makeDaemon(net.nas, { policy: { minSeconds: 1, ipv6Scope: 'address' } });
    await d.start();
    assert.equal((await d.sipa('enable')).code, 0);
  });
  after(async () => {
    await d?.sipa('disable');
    await d?.destroy();
    server?.kill();
    net?.destroy();
  });

  it('registers a file of devices in one batch (JSON lines and CSV), and they connect', async () => {
    const file = path.join(d.dir, 'devices.csv');
    const lines = ['address,for,label', `${net.remoteAddr[4]},10m,"Anna's phone, the old one"`];
    for (let i = 0; i < COUNT - 1; i++) lines.push(i % 2 ? `{"address":"${filler(i)}","label":"device ${i}"}` : `${filler(i)},,device ${i}`);
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
    const r = await d.sipa('register', '--from', file, '--for', '1h');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`registered ${COUNT} devices`));
    assert.equal(await remote(), 'connected');
    const set6 = inNs(net.nas, 'ipset', ['list', 'sipa6_allow', '-t']);
    assert.match(set6, new RegExp(`Number of entries: ${COUNT - 1}\\b`));
    const listed = await d.sipaJson<Device[]>('list');
    assert.equal(listed.length, COUNT);
    assert.equal(listed.find(x => x.address === net.remoteAddr[4])?.label, "Anna's phone, the old one");
  });

  it('refuses a batch with a bad line whole, naming the line, and registers nothing', async () => {
    const before = (await d.sipaJson<Device[]>('list')).length;
    const file = path.join(d.dir, 'bad.jsonl');
    fs.writeFileSync(file, [
      '{"address":"203.0.113.50","for":"1h"}',
      '{"address":"203.0.113.51","for":"1h"}',
      '{"address":"127.0.0.1","for":"1h"}',
      '{"address":"203.0.113.52","for":"99h"}',
    ].join('\n'));
    const r = await d.sipa('register', '--from', file);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /2 of 4 items are not valid, so nothing was registered/);
    assert.match(r.stderr, /line 3: .*127\.0\.0\.1|line 3: .*not/);
    assert.match(r.stderr, /line 4: /);
    assert.equal((await d.sipaJson<Device[]>('list')).length, before);
    const syntax = path.join(d.dir, 'syntax.csv');
    fs.writeFileSync(syntax, '203.0.113.60,1h\n203.0.113.61,soon\n');
    const s = await d.sipa('register', '--from', syntax);
    assert.equal(s.code, 2);
    assert.match(s.stderr, /line 2: /);
  });

  it('revokes a file of devices in one batch and cuts their flows', async () => {
    const held = holdConnection(net.remote, net.nasAddr[4], PORT);
    assert.equal(await held.connected, true);
    const file = path.join(d.dir, 'revoke.txt');
    fs.writeFileSync(file, [net.remoteAddr[4], ...Array.from({ length: 999 }, (_, i) => filler(i)), '203.0.113.99'].join('\n'));
    const r = await d.sipa('revoke', '--from', file, '--reason', 'spring clean');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /revoked 1000 devices/);
    assert.match(r.stdout, /no active device for: 203\.0\.113\.99/);
    await held.dead;
    assert.equal(await remote(), 'timeout');
    assert.equal((await d.sipaJson<Device[]>('list')).length, COUNT - 1000);
  });
});
