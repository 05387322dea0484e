// The NAS's own event log (QTS's log_tool; without it, the daemon's log lines marked "systemLog"): refused
// panel session checks, refused portal commands and repairs of the rules reach it, summarised.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sinon from 'sinon';
import { inNs, makeTopology, startServer, Topology } from '../../scripts/lib/netns';
import { makeDaemon, TestDaemon } from '../../scripts/lib/daemon';
import { until } from '../../scripts/lib/wait';
import { systemLog } from '../../module/engine/system-log';
import { EventSummary } from '../../module/engine/event-summary';
import { PortalLink } from '../../module/cloud';
import { DevPortalClient, startDevPortal } from '../../scripts/dev-portal';
import { testEngine } from '../support/test-engine';
import { portalConfig, quietLog } from '../cloud/helpers';
import { startImpostor, Impostor } from '../api/impostor';
import { call } from '../api/helpers';

describe('the NAS event log', function () {
  this.timeout(60000);

  it('through log_tool: a flood of refusals is one line at once and one summary per window, at warning level', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-logtool-'));
    const calls = path.join(dir, 'calls');
    const tool = path.join(dir, 'log_tool');
    fs.writeFileSync(tool, `#!/bin/sh\nfor a in "$@"; do printf '%s|' "$a"; done >> ${calls}; echo >> ${calls}\n`, { mode: 0o755 });
    try {
      const clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const daemonLog: string[] = [];
      try {
        const send = systemLog(() => (level, msg, fields) => daemonLog.push(JSON.stringify({ level, msg, ...fields })), { tool });
        const summary = new EventSummary(send, {
          level: 'warn', first: (k, d) => `refused a thing: ${k} (${d})`, more: (n, by, m) => `refused ${n} more things in the last ${m} minutes: ${by}`,
        });
        for (let i = 0; i < 300; i++) summary.add(i % 3 ? 'rate-limited' : 'not signed in', `client ${i}`);
        await clock.tickAsync(5 * 60 * 1000);
        summary.stop();
      } finally {
        clock.restore();
      }
      await until('log_tool ran twice', () => fs.existsSync(calls) && fs.readFileSync(calls, 'utf8').trim().split('\n').length === 2, 5000);
      // log_tool runs asynchronously: the two calls may finish in either order.
      const lines = fs.readFileSync(calls, 'utf8').trim().split('\n').sort();
      assert.deepEqual(lines, [
        '-t|1|-uSystem|-p127.0.0.1|-mlocalhost|-a|[Secure IP Access] refused 299 more things in the last 5 minutes: 200 rate-limited, 99 not signed in|',
        '-t|1|-uSystem|-p127.0.0.1|-mlocalhost|-a|[Secure IP Access] refused a thing: not signed in (client 0)|',
      ]);
      const order = daemonLog.filter(l => l.includes('"systemLog":true')).map(l => (JSON.parse(l) as { msg: string }).msg);
      assert.deepEqual(order, ['refused a thing: not signed in (client 0)', 'refused 299 more things in the last 5 minutes: 200 rate-limited, 99 not signed in'], 'sent in this order');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('from a running daemon (no log_tool here: its own log, marked systemLog)', () => {
    let topo: Topology;
    let server: ChildProcess;
    let impostor: Impostor;
    let d: TestDaemon;
    const systemLines = () => d.log.filter(l => l.includes('"systemLog":true'));

    before(async () => {
      topo = makeTopology('evlog');
      server = await startServer(topo.nas, [8080]);
      impostor = await startImpostor();
      d = makeDaemon(topo.nas, {
        api: { http: { enabled: true, host: '127.0.0.1', port: 0 }, qtsAuthUrl: `http://127.0.0.1:${impostor.port}/cgi-bin/authLogin.cgi` },
      });
      await d.start();
    });
    after(async () => {
      await d?.sipa('disable');
      await d?.destroy();
      await impostor?.stop();
      server?.kill();
      topo?.destroy();
    });

    it('says when a web server that is not root\'s answers on the QTS port, and summarises the refused checks', async () => {
      const ready = JSON.parse(d.log.find(l => l.includes('"daemon ready"')) as string) as { http: string };
      for (let i = 0; i < 40; i++) {
        const r = await call({ base: ready.http, path: '/api/v1/session', headers: { Cookie: `NAS_SID=made-up-${i}` } });
        assert.ok(r.status === 503 || r.status === 429, `${r.status} ${r.text}`);
      }
      await until('event-log lines', () => systemLines().some(l => /panel sign-ins refused: the web server on 127\.0\.0\.1 port \d+ is not QTS's own: its socket belongs to uid 65534/.test(l)));
      assert.equal(systemLines().filter(l => /panel sign-ins refused/.test(l)).length, 1, 'the same warning is not repeated');
      assert.equal(systemLines().filter(l => /refused a QTS session check for the panel: untrusted web server/.test(l)).length, 1, 'the rest are summarised');
    });

    it('says when it repaired the rules after something else removed them', async () => {
      assert.equal((await d.sipa('enable')).code, 0);
      await until('enabled line', () => systemLines().some(l => /enabled by cli:/.test(l)));
      inNs(topo.nas, 'iptables-legacy', ['-F', 'SIPA_INPUT']);
      await until('repair line', () => systemLines().some(l => /repaired the firewall rules or sets after something else changed them/.test(l)), 8000);
    });
  });

  it('refused portal commands: one line at once, the rest summarised when the window ends', async () => {
    const h = await testEngine();
    const account = { qnapId: 'owner@example.com', password: 'correct horse' };
    const portal = await startDevPortal({ host: '127.0.0.1', port: 0, accounts: [account], stateFile: path.join(h.dir, 'portal.json'), leaseSeconds: 300, leaseRenewSeconds: 3600 });
    const lines: Array<{ level: string; message: string }> = [];
    const link = new PortalLink({
      engine: h.engine, store: h.store, log: quietLog, systemLog: (level, message) => lines.push({ level, message }),
      config: portalConfig({ heartbeatSeconds: 0.5, reconnectMinSeconds: 0.05, reconnectMaxSeconds: 0.4, requestTimeoutSeconds: 2 }),
    });
    try {
      await link.start();
      const client = new DevPortalClient(portal.url);
      await client.signIn(account.qnapId, account.password);
      const { code } = await client.pairingCode();
      const nasId = (await link.bind({ portalUrl: portal.url, code: code.toLowerCase().replace(/^(....)/, '$1-') })).nasId as string;
      await until('connected', () => link.status().connected && portal.connected(nasId));
      for (let i = 0; i < 25; i++) portal.sendRaw(nasId, i % 5 ? '{"v":1,"type":"revoke"}' : 'x'.repeat(70_000));
      await until('refusals seen', async () => (await h.store.listAudit({ limit: 1000 })).filter(a => a.action === 'portal-refuse').length >= 25, 10000);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.equal(lines[0].level, 'warn');
      assert.match(lines[0].message, /^refused a portal command: too_large \(unknown type, seq \?: envelope of \d+ bytes is over the 65536-byte limit\); more are summarised every 5 minutes$/);
    } finally {
      await link.stop();
      await portal.stop();
      await h.dispose();
    }
    assert.equal(lines.length, 2, JSON.stringify(lines));
    assert.deepEqual(lines[1], { level: 'warn', message: 'refused 24 more portal commands in the last 5 minutes: 20 malformed, 4 too_large' });
  });
});
