// The API router on both listeners, against a sinon-stubbed EngineApi and a fake authLogin.cgi.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import sinon from 'sinon';
import { startApi, ApiHandle } from '../../module/api';
import type { ApiConfig } from '../../module/config';
import { startFakeQts, FakeQts } from './fake-qts';
import { call, CallOptions, device, status, stubEngine } from './helpers';
import { PolicyError } from '../../module/domain/policy';

const ADMIN = 'NAS_SID=admin-sid; NAS_USER=admin';

describe('api: router on the unix socket and loopback HTTP', () => {
  let qts: FakeQts;
  let dir: string;
  let api: ApiHandle;
  let engine: ReturnType<typeof stubEngine>;
  const logs: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = [];

  function config(over: Partial<ApiConfig> = {}): ApiConfig {
    return {
      http: { enabled: true, host: '127.0.0.1', port: 0 },
      token: 'dev-token-0123456789abcdef',
      qtsAuthUrl: qts.url,
      allowedHosts: ['127.0.0.1', 'localhost', 'nas.example.test:8080'],
      panelDir: path.join(dir, 'panel'),
      proxyPath: '/sipa',
      ...over,
    };
  }

  const web = (o: Omit<CallOptions, 'base'>) => call({ ...o, base: api.httpUrl as string });
  const cli = (o: Omit<CallOptions, 'socketPath'>) => call({ ...o, socketPath: api.socketPath });
  async function csrf(cookie = ADMIN): Promise<string> {
    const r = await web({ path: '/api/v1/session', headers: { Cookie: cookie } });
    assert.equal(r.status, 200, r.text);
    return r.json.csrfToken as string;
  }
  async function adminPost(p: string, body: unknown, extra: Record<string, string> = {}) {
    return web({ path: p, body, headers: { Cookie: ADMIN, 'X-CSRF-Token': await csrf(), ...extra } });
  }

  before(async () => {
    qts = await startFakeQts({
      'admin-sid': { username: 'admin', isAdmin: true },
      'user-sid': { username: 'alice', isAdmin: false },
    });
  });
  after(async () => {
    await qts.stop();
  });

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-api-'));
    fs.mkdirSync(path.join(dir, 'panel'));
    fs.writeFileSync(path.join(dir, 'panel', 'index.html'), '<!doctype html><title>panel</title>');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'outside the panel dir');
    engine = stubEngine();
    logs.length = 0;
    api = await startApi({ engine, config: config(), runDir: path.join(dir, 'run'), log: (level, msg, fields) => logs.push({ level, msg, fields }) });
  });
  afterEach(async () => {
    await api.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('listeners', () => {
    it('serves the same routes on the unix socket (mode 0660) and on HTTP (real ephemeral port)', async () => {
      assert.equal(api.socketPath, path.join(dir, 'run', 'sipa.sock'));
      assert.equal(fs.statSync(api.socketPath).mode & 0o777, 0o660);
      assert.match(api.httpUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(api.httpUrl, 'http://127.0.0.1:0');
      const viaSocket = await cli({ path: '/api/v1/status' });
      const viaHttp = await web({ path: '/api/v1/status', headers: { Cookie: ADMIN } });
      assert.equal(viaSocket.status, 200);
      assert.equal(viaHttp.status, 200);
      assert.deepEqual(viaSocket.json, viaHttp.json);
      assert.deepEqual(viaSocket.json, status());
    });

    it('the CLI acts as X-Sipa-User without a session or CSRF token', async () => {
      const r = await cli({ path: '/api/v1/enable', body: {}, headers: { 'X-Sipa-User': 'root' } });
      assert.equal(r.status, 200, r.text);
      sinon.assert.calledOnceWithExactly(engine.enable, { surface: 'cli', name: 'root' });
      const empty = await cli({ method: 'POST', path: '/api/v1/disable', headers: { 'X-Sipa-User': 'ops' } });
      assert.equal(empty.status, 200, 'an empty body reads as {}');
      sinon.assert.calledOnceWithExactly(engine.disable, { surface: 'cli', name: 'ops' });
    });

    it('GET /api/v1/session is HTTP only', async () => {
      assert.equal((await cli({ path: '/api/v1/session' })).status, 404);
    });

    it('stop() removes the socket and closes the port', async () => {
      const { socketPath, httpUrl } = api;
      await api.stop();
      assert.equal(fs.existsSync(socketPath), false);
      await assert.rejects(call({ base: httpUrl as string, path: '/api/v1/status' }));
      api = await startApi({ engine, config: config(), runDir: path.join(dir, 'run') });
    });

    it('replaces a stale socket file left by a dead daemon', async () => {
      await api.stop();
      const sock = path.join(dir, 'run', 'sipa.sock');
      // A process that exits without closing leaves its socket node behind, as a killed daemon does.
      execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.exit(0))`]);
      assert.ok(fs.lstatSync(sock).isSocket());
      api = await startApi({ engine, config: config(), runDir: path.join(dir, 'run') });
      assert.equal((await cli({ path: '/api/v1/status' })).status, 200);
    });
  });

  describe('QTS session, Host/Origin, CSRF', () => {
    it('an admin session passes and is cached (one authLogin.cgi look-up for many requests)', async () => {
      const before = qts.requests;
      for (let i = 0; i < 3; i++) assert.equal((await web({ path: '/api/v1/status', headers: { Cookie: ADMIN } })).status, 200);
      assert.equal(qts.requests - before, 1);
    });

    it('a non-admin session is refused with 403 not_admin', async () => {
      const r = await web({ path: '/api/v1/devices', headers: { Cookie: 'NAS_SID=user-sid; NAS_USER=alice' } });
      assert.equal(r.status, 403);
      assert.equal(r.json.error.code, 'not_admin');
      sinon.assert.notCalled(engine.list);
    });

    it('a missing or invalid session is 401', async () => {
      const none = await web({ path: '/api/v1/status' });
      assert.equal(none.status, 401);
      assert.equal(none.json.error.code, 'no_session');
      const bad = await web({ path: '/api/v1/status', headers: { Cookie: 'NAS_SID=forged' } });
      assert.equal(bad.status, 401);
      assert.equal(bad.json.error.code, 'bad_session');
      const otherUser = await web({ path: '/api/v1/status', headers: { Cookie: 'NAS_SID=admin-sid; NAS_USER=mallory' } });
      assert.equal(otherUser.status, 401, 'NAS_USER must match the session user');
    });

    it('authLogin.cgi unreachable is 503, not a pass', async () => {
      await api.stop();
      api = await startApi({ engine, config: config({ qtsAuthUrl: 'http://127.0.0.1:9/cgi-bin/authLogin.cgi' }), runDir: path.join(dir, 'run') });
      const r = await web({ path: '/api/v1/status', headers: { Cookie: ADMIN } });
      assert.equal(r.status, 503);
      assert.equal(r.json.error.code, 'auth_unavailable');
    });

    it('a foreign Host or Origin is 403; allowed hosts match with or without port', async () => {
      const host = await web({ path: '/api/v1/status', headers: { Cookie: ADMIN, Host: 'evil.example' } });
      assert.equal(host.status, 403);
      assert.equal(host.json.error.code, 'foreign_host');
      const rebinding = await web({ path: '/', headers: { Host: 'evil.example:8491' } });
      assert.equal(rebinding.status, 403, 'the panel files are behind the Host check too');
      const origin = await web({ path: '/api/v1/status', headers: { Cookie: ADMIN, Origin: 'http://evil.example' } });
      assert.equal(origin.status, 403);
      assert.equal(origin.json.error.code, 'foreign_origin');
      assert.equal((await web({ path: '/api/v1/status', headers: { Cookie: ADMIN, Origin: 'null' } })).status, 403);
      const port = new URL(api.httpUrl as string).port;
      assert.equal((await web({ path: '/api/v1/status', headers: { Cookie: ADMIN, Host: `localhost:${port}`, Origin: `http://localhost:${port}` } })).status, 200);
      assert.equal((await web({ path: '/api/v1/status', headers: { Cookie: ADMIN, Host: 'nas.example.test:8080' } })).status, 200);
      assert.equal((await web({ path: '/api/v1/status', headers: { Cookie: ADMIN, Host: 'nas.example.test:9999' } })).status, 403);
    });

    it('behind the QTS proxy (a loopback peer), an Origin equal to the X-Forwarded-Host the proxy wrote is the page\'s own', async () => {
      const token = await csrf();
      const post = (headers: Record<string, string>) =>
        web({ path: '/sipa/api/v1/enable', body: {}, headers: { Cookie: ADMIN, 'X-CSRF-Token': token, ...headers } });
      // The admin opened http://192.0.2.10:8080/sipa/: the NAS's address is in no allowlist.
      const through = await post({ Origin: 'http://192.0.2.10:8080', 'X-Forwarded-Host': '192.0.2.10:8080', 'X-Forwarded-For': '192.0.2.50' });
      assert.equal(through.status, 200, through.text);
      assert.equal(engine.enable.callCount, 1);
      // Only the last entry counts (the one our proxy appended), and the Host check is unchanged.
      assert.equal((await post({ Origin: 'http://192.0.2.10:8080', 'X-Forwarded-Host': '192.0.2.10:8080, 198.51.100.1' })).json.error.code, 'foreign_origin');
      assert.equal((await post({ Origin: 'http://192.0.2.10:8080' })).json.error.code, 'foreign_origin');
      assert.equal((await post({ Origin: 'http://192.0.2.10:8080', 'X-Forwarded-Host': '192.0.2.10:8080', Host: '192.0.2.10:8080' })).json.error.code, 'foreign_host');
      assert.equal(engine.enable.callCount, 1);
    });

    it('a POST without (or with a wrong) X-CSRF-Token is 403 and the engine is not called', async () => {
      const none = await web({ path: '/api/v1/enable', body: {}, headers: { Cookie: ADMIN } });
      assert.equal(none.status, 403);
      assert.equal(none.json.error.code, 'csrf');
      const wrong = await web({ path: '/api/v1/enable', body: {}, headers: { Cookie: ADMIN, 'X-CSRF-Token': 'x'.repeat(43) } });
      assert.equal(wrong.status, 403);
      qts.sessions.set('admin2-sid', { username: 'admin2', isAdmin: true });
      const otherSessions = await csrf('NAS_SID=admin2-sid');
      const crossed = await web({ path: '/api/v1/enable', body: {}, headers: { Cookie: ADMIN, 'X-CSRF-Token': otherSessions } });
      assert.equal(crossed.status, 403, "another session's token does not fit");
      sinon.assert.notCalled(engine.enable);
      const ok = await adminPost('/api/v1/enable', {});
      assert.equal(ok.status, 200, ok.text);
      sinon.assert.calledOnceWithExactly(engine.enable, { surface: 'panel', name: 'admin' });
    });

    it('a bearer token (dev/demo) is accepted when configured; a wrong one is 401', async () => {
      const ok = await web({ path: '/api/v1/session', headers: { Authorization: 'Bearer dev-token-0123456789abcdef' } });
      assert.equal(ok.status, 200);
      assert.equal(ok.json.user, 'token');
      const post = await web({ path: '/api/v1/disable', body: {}, headers: { Authorization: 'Bearer dev-token-0123456789abcdef', 'X-CSRF-Token': ok.json.csrfToken } });
      assert.equal(post.status, 200);
      sinon.assert.calledOnceWithExactly(engine.disable, { surface: 'panel', name: 'token' });
      const bad = await web({ path: '/api/v1/status', headers: { Authorization: 'Bearer dev-token-0123456789abcdeX' } });
      assert.equal(bad.status, 401);
      await api.stop();
      api = await startApi({ engine, config: config({ token: null }), runDir: path.join(dir, 'run') });
      assert.equal((await web({ path: '/api/v1/status', headers: { Authorization: 'Bearer anything-at-all-here' } })).status, 401);
    });

    it('sends security headers and no CORS headers', async () => {
      for (const r of [
        await web({ path: '/api/v1/status', headers: { Cookie: ADMIN, Origin: `${api.httpUrl}` } }),
        await web({ path: '/' }),
        await web({ path: '/api/v1/status' }),
      ]) {
        assert.match(String(r.headers['content-security-policy']), /default-src 'self'/);
        assert.match(String(r.headers['content-security-policy']), /frame-ancestors 'self'/);
        assert.equal(r.headers['x-content-type-options'], 'nosniff');
        assert.equal(r.headers['referrer-policy'], 'no-referrer');
        assert.equal(Object.keys(r.headers).filter(h => h.startsWith('access-control-')).length, 0);
      }
      const pre = await web({ method: 'OPTIONS', path: '/api/v1/enable', headers: { Cookie: ADMIN, Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' } });
      assert.equal(pre.status, 403);
    });
  });

  describe('bodies and validation', () => {
    it('registers a local device: 201 with the device; source and actor are the API\'s, not the body\'s', async () => {
      const r = await adminPost('/api/v1/devices', { address: '203.0.113.9', label: 'phone', expiry: { policy: 'fixed', seconds: 600 } });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.device.address, '203.0.113.9');
      sinon.assert.calledOnceWithExactly(engine.register,
        { address: '203.0.113.9', label: 'phone', expiry: { policy: 'fixed', seconds: 600 }, source: 'local', qnapId: null },
        { surface: 'panel', name: 'admin' });
    });

    it('GET /api/v1/devices?first=N answers the engine\'s first page and the active count; N is 1 to 1000', async () => {
      engine.firstActive.resolves({ devices: [device()], total: 10_000 });
      const r = await cli({ method: 'GET', path: '/api/v1/devices?first=50' });
      assert.equal(r.status, 200, r.text);
      assert.deepEqual([r.json.devices.length, r.json.total], [1, 10_000]);
      sinon.assert.calledOnceWithExactly(engine.firstActive, 50);
      for (const bad of ['0', '1001', 'abc', '', '5.5']) {
        const refused = await cli({ method: 'GET', path: `/api/v1/devices?first=${bad}` });
        assert.equal(refused.status, 400, bad);
        assert.equal(refused.json.error.field, 'first');
      }
      sinon.assert.calledOnce(engine.firstActive);
    });

    it('registers until revoked: the body carries the policy alone, the engine (its config) decides', async () => {
      const r = await adminPost('/api/v1/devices', { address: '203.0.113.9', expiry: { policy: 'until-revoked' } });
      assert.equal(r.status, 201, r.text);
      sinon.assert.calledOnceWithExactly(engine.register,
        { address: '203.0.113.9', expiry: { policy: 'until-revoked' }, source: 'local', qnapId: null }, { surface: 'panel', name: 'admin' });
      engine.register.rejects(new PolicyError('expiry.policy', 'registering until revoked is not allowed here: policy.allowUntilRevoked is false'));
      const refused = await cli({ path: '/api/v1/devices', body: { address: '203.0.113.9', expiry: { policy: 'until-revoked' } } });
      assert.equal(refused.status, 400);
      assert.deepEqual([refused.json.error.code, refused.json.error.field], ['bad_expiry', 'expiry.policy']);
      assert.match(refused.json.error.message, /policy\.allowUntilRevoked/);
    });

    const cases: Array<[string, unknown, string, string]> = [
      ['until revoked with a period', { address: '203.0.113.9', expiry: { policy: 'until-revoked', seconds: 60 } }, 'expiry.seconds', 'bad_expiry'],
      ['missing address', { expiry: { policy: 'fixed', seconds: 60 } }, 'address', 'bad_address'],
      ['address not text', { address: 7, expiry: { policy: 'fixed', seconds: 60 } }, 'address', 'bad_address'],
      ['missing expiry', { address: '203.0.113.9' }, 'expiry', 'bad_expiry'],
      ['seconds not a whole number', { address: '203.0.113.9', expiry: { policy: 'fixed', seconds: 1.5 } }, 'expiry.seconds', 'bad_expiry'],
      ['seconds as text', { address: '203.0.113.9', expiry: { policy: 'fixed', seconds: '60' } }, 'expiry.seconds', 'bad_expiry'],
      ['unknown policy', { address: '203.0.113.9', expiry: { policy: 'forever' } }, 'expiry.policy', 'bad_expiry'],
      ['session without id', { address: '203.0.113.9', expiry: { policy: 'session', leaseSeconds: 60 } }, 'expiry.sessionId', 'bad_expiry'],
      ['label too long', { address: '203.0.113.9', label: 'x'.repeat(65), expiry: { policy: 'fixed', seconds: 60 } }, 'label', 'bad_input'],
      ['unknown field', { address: '203.0.113.9', source: 'portal', expiry: { policy: 'fixed', seconds: 60 } }, 'source', 'bad_input'],
    ];
    for (const [what, body, field, code] of cases) {
      it(`400 names the field: ${what} → ${field}`, async () => {
        const r = await cli({ path: '/api/v1/devices', body });
        assert.equal(r.status, 400, r.text);
        assert.equal(r.json.error.field, field);
        assert.equal(r.json.error.code, code);
        assert.ok(r.json.error.message.length > 5);
        sinon.assert.notCalled(engine.register);
      });
    }

    it('rejects non-JSON and wrong content types', async () => {
      const bad = await cli({ path: '/api/v1/devices', raw: '{"address":', headers: { 'Content-Type': 'application/json' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.code, 'bad_json');
      const form = await cli({ path: '/api/v1/devices', raw: 'address=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      assert.equal(form.status, 415);
    });

    it('a body over 16 KiB is 413 (declared or streamed)', async () => {
      const big = { address: '203.0.113.9', label: 'x'.repeat(17 * 1024), expiry: { policy: 'fixed', seconds: 60 } };
      const r = await adminPost('/api/v1/devices', big);
      assert.equal(r.status, 413);
      assert.equal(r.json.error.code, 'too_large');
      const chunked = await new Promise<number>((resolve, reject) => {
        const req = http.request({ socketPath: api.socketPath, method: 'POST', path: '/api/v1/devices', headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } }, res => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.write('{"label":"');
        req.end(`${'y'.repeat(20 * 1024)}"}`);
      });
      assert.equal(chunked, 413);
      sinon.assert.notCalled(engine.register);
    });

    it('audit limit is checked; revoke takes an id or an address', async () => {
      assert.equal((await cli({ path: '/api/v1/audit?limit=5000' })).json.error.field, 'limit');
      assert.equal((await cli({ path: '/api/v1/audit?limit=20' })).status, 200);
      sinon.assert.calledWith(engine.audit, { limit: 20 });
      await cli({ path: '/api/v1/audit' });
      sinon.assert.calledWith(engine.audit, { limit: 100 });
      await cli({ path: `/api/v1/audit?limit=50&before=812&q=${encodeURIComponent('203.0.113.7 100%')}` });
      sinon.assert.calledWith(engine.audit, { limit: 50, beforeId: 812, text: '203.0.113.7 100%' });
      assert.equal((await cli({ path: '/api/v1/audit?before=0' })).json.error.field, 'before');
      assert.equal((await cli({ path: '/api/v1/audit?before=x' })).json.error.field, 'before');
      assert.equal((await cli({ path: `/api/v1/audit?q=${'a'.repeat(201)}` })).json.error.field, 'q');
      assert.equal((await cli({ path: '/api/v1/audit?q=%0a' })).json.error.field, 'q');
      await cli({ path: '/api/v1/devices/42/revoke', body: { reason: 'lost phone' }, headers: { 'X-Sipa-User': 'root' } });
      sinon.assert.calledWith(engine.revoke, 42, { surface: 'cli', name: 'root' }, 'lost phone');
      await cli({ path: `/api/v1/devices/${encodeURIComponent('2001:db8::7')}/revoke`, body: {} });
      sinon.assert.calledWith(engine.revoke, '2001:db8::7');
      await cli({ path: '/api/v1/devices?all=1' });
      sinon.assert.calledWith(engine.list, { all: true });
    });

    it('unknown routes are 404, wrong methods 405 with Allow', async () => {
      assert.equal((await cli({ path: '/api/v1/nothing' })).status, 404);
      const r = await cli({ method: 'DELETE', path: '/api/v1/devices' });
      assert.equal(r.status, 405);
      assert.equal(r.headers.allow, 'GET, POST');
    });
  });

  describe('engine errors', () => {
    const err = (code: string, message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { code }, extra);

    it('not_found → 404, conflict → 409, bad_address → 400 field address, bad_expiry keeps its field', async () => {
      engine.revoke.onCall(0).rejects(err('not_found', 'revoke: no device 42 (see sipa list)'));
      engine.revoke.onCall(1).rejects(err('conflict', 'device 1 is already revoked'));
      engine.revoke.onCall(2).rejects(err('conflict', 'busy'));
      const nf = await cli({ path: '/api/v1/devices/42/revoke', body: {} });
      assert.equal(nf.status, 404);
      assert.deepEqual(nf.json, { error: { code: 'not_found', message: 'revoke: no device 42 (see sipa list)', field: null } });
      assert.equal((await cli({ path: '/api/v1/devices/1/revoke', body: {} })).status, 409);
      assert.equal((await cli({ path: '/api/v1/devices/1/revoke', body: {} })).status, 409);
      engine.register.onCall(0).rejects(err('bad_address', '"10.0.0.300" is not a valid address: octet out of range'));
      engine.register.onCall(1).rejects(err('bad_expiry', 'period too long', { field: 'expiry.seconds' }));
      const ba = await cli({ path: '/api/v1/devices', body: { address: '10.0.0.300', expiry: { policy: 'fixed', seconds: 60 } } });
      assert.equal(ba.status, 400);
      assert.equal(ba.json.error.field, 'address');
      assert.match(ba.json.error.message, /octet/);
      const be = await cli({ path: '/api/v1/devices', body: { address: '203.0.113.1', expiry: { policy: 'fixed', seconds: 99999 } } });
      assert.equal(be.status, 400);
      assert.equal(be.json.error.field, 'expiry.seconds');
      engine.status.rejects(err('kernel_failed', 'the kernel refused the rules'));
      assert.equal((await cli({ path: '/api/v1/status' })).status, 503);
    });

    it('anything else is a generic 500; the detail goes to the log only', async () => {
      engine.list.rejects(new Error('SQLITE_IOERR: disk I/O error at /mnt/boot_config/sipa/secret-path'));
      const r = await cli({ path: '/api/v1/devices' });
      assert.equal(r.status, 500);
      assert.equal(r.json.error.code, 'internal');
      assert.doesNotMatch(r.text, /SQLITE|secret-path/);
      assert.ok(logs.some(l => l.level === 'error' && /SQLITE_IOERR/.test(String(l.fields?.error))));
    });
  });

  describe('session and remote address', () => {
    it('reports the user, a CSRF token, the portal state and whether the remote address is registered', async () => {
      const lan = await web({ path: '/api/v1/session', headers: { Cookie: ADMIN } });
      assert.equal(lan.status, 200);
      assert.equal(lan.json.user, 'admin');
      assert.equal(lan.json.remoteAddress, '127.0.0.1');
      assert.equal(lan.json.remoteLan, true);
      assert.equal(lan.json.remoteRegistered, true);
      assert.equal(lan.json.bound, true);
      assert.equal(lan.json.portalConfigured, true);
      sinon.assert.notCalled(engine.allows);

      const remote = await web({ path: '/api/v1/session', headers: { Cookie: ADMIN, 'X-Forwarded-For': '198.51.100.1, 203.0.113.50' } });
      assert.equal(remote.json.remoteAddress, '203.0.113.50', 'the last hop is the one our proxy wrote');
      assert.equal(remote.json.remoteLan, false);
      assert.equal(remote.json.remoteRegistered, false);
      sinon.assert.calledOnceWithExactly(engine.allows, '203.0.113.50');

      const inLan = await web({ path: '/api/v1/session', headers: { Cookie: ADMIN, 'X-Forwarded-For': '192.168.1.20' } });
      assert.equal(inLan.json.remoteLan, true);
      assert.equal(inLan.json.remoteRegistered, true);

      // A forwarded address that does not parse is unknown: the panel must warn, not take it for loopback (LAN).
      const odd = await web({ path: '/api/v1/session', headers: { Cookie: ADMIN, 'X-Forwarded-For': '203.0.113.5:5555' } });
      assert.equal(odd.json.remoteAddress, null);
      assert.equal(odd.json.remoteLan, false);
      assert.equal(odd.json.remoteRegistered, false);
    });

    it('the engine says (from memory) whether an active device lets the address in', async () => {
      engine.allows.callsFake(async (addr: string) => addr === '203.0.113.50');
      const ask = async (addr: string) => (await web({ path: '/api/v1/session', headers: { Cookie: ADMIN, 'X-Forwarded-For': addr } })).json.remoteRegistered;
      assert.equal(await ask('203.0.113.50'), true);
      assert.equal(await ask('203.0.113.51'), false);
      sinon.assert.notCalled(engine.list);
    });
  });

  describe('panel files', () => {
    it('serves the panel at / from panelDir; no traversal, no dot files; read-only', async () => {
      const index = await web({ path: '/' });
      assert.equal(index.status, 200);
      assert.match(String(index.headers['content-type']), /text\/html/);
      assert.match(index.text, /<title>panel<\/title>/);
      assert.equal((await web({ path: '/../secret.txt' })).status, 404);
      assert.equal((await web({ path: '/%2e%2e/secret.txt' })).status, 404);
      assert.equal((await web({ path: '/.hidden' })).status, 404);
      assert.equal((await web({ method: 'POST', path: '/index.html', raw: 'x' })).status, 405);
    });

    it('serves the panel and the API under proxyPath too (a proxy that keeps the prefix); the bare prefix gets its slash', async () => {
      const index = await web({ path: '/sipa/' });
      assert.equal(index.status, 200);
      assert.match(index.text, /<title>panel<\/title>/);
      const bare = await web({ path: '/sipa?x=1' });
      assert.equal(bare.status, 301);
      assert.equal(bare.headers.location, '/sipa/?x=1');
      assert.equal((await web({ path: '/sipa/api/v1/status', headers: { Cookie: ADMIN } })).status, 200);
      assert.equal((await web({ path: '/sipa/../secret.txt' })).status, 404);
      assert.equal((await web({ path: '/sipa/%2e%2e/secret.txt' })).status, 404);
      assert.equal((await web({ path: '/sipax/' })).status, 404);
    });
  });

  describe('events (SSE)', () => {
    it('streams engine events to the panel and unsubscribes when the client leaves', async () => {
      const d = device({ id: 9, address: '203.0.113.99' });
      const received = await new Promise<string>((resolve, reject) => {
        const u = new URL(api.httpUrl as string);
        const req = http.get({ host: u.hostname, port: u.port, path: '/api/v1/events', headers: { Cookie: ADMIN } }, res => {
          assert.equal(res.statusCode, 200);
          assert.match(String(res.headers['content-type']), /text\/event-stream/);
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            if (text.includes(': connected')) {
              if (!text.includes('event:')) {
                engine.emit('registered', { device: d });
                engine.emit('enabled', { by: { surface: 'cli', name: 'root' } });
              }
            }
            if (text.includes('event: enabled')) {
              req.destroy();
              resolve(text);
            }
          });
        });
        req.on('error', reject);
      });
      assert.match(received, /event: registered\ndata: (.+)\n\n/);
      const data = /event: registered\ndata: (.+)\n/.exec(received)![1];
      assert.deepEqual(JSON.parse(data), { device: d });
      const deadline = Date.now() + 2000;
      while (engine.listenerCount() > 0 && Date.now() < deadline) await new Promise(r => setTimeout(r, 20));
      assert.equal(engine.listenerCount(), 0, 'listeners removed on disconnect');
    });

    it('announces a binding change made through the API (`portal`) to open streams', async () => {
      await api.stop();
      let bound = true;
      engine.status.callsFake(async () => status({ portal: { configured: true, bound, connected: bound } }));
      const portal = { status: () => ({ bound }), bind: sinon.stub(), unbind: sinon.stub().callsFake(async () => { bound = false; return { revoked: 0 }; }) };
      api = await startApi({ engine, config: config(), runDir: path.join(dir, 'run'), portal });
      const received = await new Promise<string>((resolve, reject) => {
        const u = new URL(api.httpUrl as string);
        const req = http.get({ host: u.hostname, port: u.port, path: '/api/v1/events', headers: { Cookie: ADMIN } }, res => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            if (text.includes(': connected') && !text.includes('unbinding')) {
              text += ': unbinding\n';
              void cli({ path: '/api/v1/portal/unbind', body: {} });
            }
            if (text.includes('event: portal')) {
              req.destroy();
              resolve(text);
            }
          });
        });
        req.on('error', reject);
      });
      const data = /event: portal\ndata: (.+)\n/.exec(received)![1];
      assert.deepEqual(JSON.parse(data), { configured: true, bound: false, connected: false });
    });

    it('refuses the event stream without a session', async () => {
      assert.equal((await web({ path: '/api/v1/events' })).status, 401);
      assert.equal(engine.listenerCount(), 0);
    });
  });
});
