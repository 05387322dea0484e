// Who may vouch for an admin session: only a web server whose listening socket belongs to root, on the port
// QTS's own configuration names; and how many authLogin.cgi look-ups a flood of made-up sessions can cause.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApi, ApiHandle } from '../../module/api';
import { listenersFor } from '../../module/api/listener-owner';
import { LOOKUP_LIMITS, QtsSessionChecker, qtsWebPort, QTS_DEFAULT_PORT } from '../../module/api/qts-auth';
import type { ApiConfig } from '../../module/config';
import { startFakeQts, FakeQts } from './fake-qts';
import { call, stubEngine } from './helpers';
import { startImpostor, Impostor } from './impostor';

describe('api: only the real QTS vouches for an admin session', function () {
  this.timeout(20000);
  let dir: string;
  let api: ApiHandle | null = null;
  let qts: FakeQts;
  let impostor: Impostor;
  const events: Array<{ level: string; message: string }> = [];

  function config(over: Partial<ApiConfig>): ApiConfig {
    return {
      http: { enabled: true, host: '127.0.0.1', port: 0 },
      token: null,
      qtsAuthUrl: null,
      allowedHosts: ['127.0.0.1', 'localhost'],
      panelDir: path.join(dir, 'panel'),
      ...over,
    };
  }
  async function start(over: Partial<ApiConfig>, engine = stubEngine()) {
    if (api) await api.stop();
    api = await startApi({ engine, config: config(over), runDir: path.join(dir, 'run'), systemLog: (level, message) => events.push({ level, message }) });
    return engine;
  }
  const web = (p: string, cookie: string, extra: Record<string, string> = {}, body?: unknown) =>
    call({ base: api!.httpUrl as string, path: p, headers: { Cookie: cookie, ...extra }, body });
  const ulinux = (text: string) => {
    const file = path.join(dir, 'uLinux.conf');
    fs.writeFileSync(file, text);
    return file;
  };

  before(async () => {
    qts = await startFakeQts({ 'admin-sid': { username: 'admin', isAdmin: true } });
    impostor = await startImpostor();
  });
  after(async () => {
    await impostor?.stop();
    await qts?.stop();
  });
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-qts-trust-'));
    fs.mkdirSync(path.join(dir, 'panel'));
    events.length = 0;
  });
  afterEach(async () => {
    if (api) await api.stop();
    api = null;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads the listener owners from /proc/net: the impostor is uid 65534, the fake QTS (this process) root', () => {
    const theirs = listenersFor(impostor.port, '127.0.0.1');
    assert.equal(theirs.length, 1);
    assert.equal(theirs[0].uid, 65534);
    assert.equal(theirs[0].address, '127.0.0.1');
    const ours = listenersFor(Number(new URL(qts.url).port), '127.0.0.1');
    assert.deepEqual(ours.map(l => l.uid), [0]);
    assert.deepEqual(listenersFor(impostor.port, '::1'), [], 'an IPv4 listener does not take connections to ::1');
  });

  it('an unprivileged process answering "admin" is not believed: POST /disable is refused, and the event log says why', async () => {
    const engine = await start({ qtsAuthUrl: `http://127.0.0.1:${impostor.port}/cgi-bin/authLogin.cgi` });
    const session = await web('/api/v1/session', 'NAS_SID=madeup123');
    assert.equal(session.status, 503, session.text);
    assert.equal(session.json.error.code, 'auth_untrusted');
    assert.match(session.json.error.message, /not QTS's own: its socket belongs to uid 65534, not root/);
    const disable = await web('/api/v1/disable', 'NAS_SID=madeup123', { 'X-CSRF-Token': 'x' }, {});
    assert.equal(disable.status, 503, disable.text);
    assert.equal(engine.disable.callCount, 0);
    const warn = events.find(e => e.level === 'warn' && /panel sign-ins refused: .*uid 65534/.test(e.message));
    assert.ok(warn, JSON.stringify(events));
  });

  it('takes the port from QTS\'s uLinux.conf ([System] Web Access Port): the impostor\'s port is refused, the real one works', async () => {
    assert.equal(qtsWebPort(ulinux('[Network]\nWeb Access Port = 1\n[System]\nVersion = 5.2.0\nWeb Access Port = 8181\n')), 8181);
    assert.equal(qtsWebPort(ulinux('[System]\nVersion = 5.2.0\n')), QTS_DEFAULT_PORT);
    assert.equal(qtsWebPort(path.join(dir, 'absent.conf')), QTS_DEFAULT_PORT);

    const engine = await start({ qtsConfigFile: ulinux(`[System]\nWeb Access Port = ${impostor.port}\n`) });
    const refused = await web('/api/v1/status', 'NAS_SID=madeup456');
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.json.error.code, 'auth_untrusted');

    await start({ qtsConfigFile: ulinux(`[system]\nweb access port = ${new URL(qts.url).port}\n`) }, engine);
    const ok = await web('/api/v1/status', 'NAS_SID=admin-sid; NAS_USER=admin');
    assert.equal(ok.status, 200, ok.text);
  });

  it('an explicit api.qtsAuthUrl must be on loopback', async () => {
    await assert.rejects(start({ qtsAuthUrl: 'http://192.0.2.1:8080/cgi-bin/authLogin.cgi' }), /127\.0\.0\.1 or \[::1\]/);
  });

  it('300 made-up NAS_SIDs cause a bounded number of authLogin.cgi look-ups; the admin keeps working and the event log gets a summary', async () => {
    await start({ qtsAuthUrl: qts.url });
    const admin = 'NAS_SID=admin-sid; NAS_USER=admin';
    assert.equal((await web('/api/v1/status', admin)).status, 200);
    const before = qts.requests;
    const statuses: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => web('/api/v1/status', `NAS_SID=rnd${batch}x${i}${Math.random().toString(36).slice(2)}`)));
      statuses.push(...rs.map(r => r.status));
      assert.equal((await web('/api/v1/status', admin)).status, 200, 'the signed-in admin is served during the flood');
    }
    const lookups = qts.requests - before;
    assert.ok(lookups <= LOOKUP_LIMITS.perClient.burst + 2, `${lookups} authLogin.cgi look-ups for 300 made-up sessions from one client`);
    assert.ok(statuses.filter(s => s === 429).length >= 280, `statuses: ${statuses.join(',')}`);
    assert.ok(statuses.every(s => s === 429 || s === 401));
    const lines = events.filter(e => /refused a QTS session check/.test(e.message));
    assert.equal(lines.length, 1, `one line at once, the rest summarised later: ${JSON.stringify(events)}`);
    await api!.stop();
    api = null;
    const summary = events.filter(e => /refused \d+ more QTS session checks/.test(e.message));
    assert.equal(summary.length, 1, JSON.stringify(events));
    assert.match(summary[0].message, /\d+ rate-limited/);
  });

  it('made-up sids from many forged clients are bounded overall, and a known admin is re-checked from its own reserve', async () => {
    let t = 1_000_000;
    const checker = new QtsSessionChecker({ url: qts.url, now: () => t });
    const before = qts.requests;
    assert.equal((await checker.check('admin-sid', '198.51.100.1')).isAdmin, true);
    const results = await Promise.allSettled(Array.from({ length: 300 }, (_, i) => checker.check(`forged${i}`, `203.0.113.${i % 250}`)));
    const asked = qts.requests - before - 1;
    assert.ok(asked <= LOOKUP_LIMITS.overall.burst, `${asked} look-ups for 300 made-up sessions from 250 clients`);
    assert.ok(results.filter(r => r.status === 'rejected').length >= 300 - LOOKUP_LIMITS.overall.burst);
    // The admin's cached answer expires while the flood has spent the common budget: re-checked all the same.
    t += 31_000;
    for (let i = 0; i < 50; i++) await checker.check(`again${i}`, `203.0.113.${i}`).catch(() => undefined);
    const again = await checker.check('admin-sid', '198.51.100.1');
    assert.equal(again.isAdmin, true);
    // A new session from a client that did not flood still gets its look-up once the common budget refills.
    t += 10_000;
    assert.equal((await checker.check('admin-sid-2', '198.51.100.2')).authPassed, false);
  });
});
