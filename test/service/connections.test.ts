// The API's load never reaches enforcement: a daemon limited to 1,024 file descriptors, 1,400 idle connections
// on its HTTP port, and still the CLI answers and the reconciler repairs a flushed chain.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { inNs, makeTopology, startServer, Topology, tryConnect } from '../../scripts/lib/netns';
import { makeDaemon, TestDaemon } from '../../scripts/lib/daemon';
import { until } from '../../scripts/lib/wait';
import type { AuditEntry, Status } from '../../module/engine/contract';

const PORT = 8080;
const IDLE_CONNECTIONS = 1400;

/** Opens `count` TCP connections that send nothing; resolves when each has connected or failed. */
async function idleConnections(port: number, count: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = [];
  await Promise.all(Array.from({ length: count }, () => new Promise<void>(resolve => {
    const s = net.connect(port, '127.0.0.1');
    sockets.push(s);
    s.once('connect', () => resolve());
    s.once('error', () => resolve());
    s.once('close', () => resolve());
  })));
  return sockets;
}

describe('service: 1,400 idle HTTP connections against a daemon with 1,024 descriptors', function () {
  this.timeout(90000);
  let topo: Topology;
  let server: ChildProcess;
  let d: TestDaemon;
  let sockets: net.Socket[] = [];

  before(async () => {
    topo = makeTopology('fds');
    server = await startServer(topo.nas, [PORT]);
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await d?.sipa('disable');
    await d?.destroy();
    server?.kill();
    topo?.destroy();
  });

  it('keeps the CLI answering and the reconciler repairing; the API holds a bounded share of descriptors', async () => {
    d = makeDaemon(topo.nas, { api: { http: { enabled: true, host: '127.0.0.1', port: 0 } } }, { wrap: ['prlimit', '--nofile=1024:1024', '--'] });
    await d.start();
    const ready = d.log.find(l => l.includes('"daemon ready"'));
    const httpUrl = JSON.parse(ready as string).http as string;
    const port = Number(new URL(httpUrl).port);
    assert.equal((await d.sipa('enable')).code, 0);
    assert.equal((await d.sipa('register', topo.remoteAddr[4], '--for', '10m')).code, 0);

    sockets = await idleConnections(port, IDLE_CONNECTIONS);

    const status = await d.sipa('status', '--json');
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as Status).enforcing, true);
    const reg = await d.sipa('register', '203.0.113.11', '--for', '10m', '--label', 'during the flood');
    assert.equal(reg.code, 0, reg.stderr);

    inNs(topo.nas, 'iptables-legacy', ['-F', 'SIPA_INPUT']);
    await until('repaired under load', async () => {
      const audit = await d.sipaJson<AuditEntry[]>('audit', '--limit', '5');
      return audit.some(a => a.action === 'repaired');
    }, 8000, 200);
    assert.equal(await tryConnect(topo.remote, topo.nasAddr[6], PORT), 'timeout', 'closed again after the repair');
    assert.equal(await tryConnect(topo.remote, topo.nasAddr[4], PORT), 'connected', 'the registered device is allowed');
    assert.deepEqual(d.log.filter(l => /EMFILE|ENFILE|EPIPE/.test(l)), []);
    const pid = d.process!.pid as number;
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    assert.ok(fds < 1024 - 256, `the daemon holds ${fds} descriptors with ${IDLE_CONNECTIONS} connections knocking`);
    console.log(`        daemon descriptors with ${IDLE_CONNECTIONS} idle connections open against it: ${fds} of 1024`);
  });
});
