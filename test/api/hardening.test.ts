// Small hardening checks of the API listeners: the socket's mode from its first moment, a relative panelDir.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sinon from 'sinon';
import { startApi, ApiHandle } from '../../module/api';
import type { ApiConfig } from '../../module/config';
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { connectionCaps, descriptorLimit } from '../../module/api/descriptors';
import { call, stubEngine } from './helpers';

describe('api: listener hardening', () => {
  let dir: string;
  let api: ApiHandle | null = null;

  function config(over: Partial<ApiConfig> = {}): ApiConfig {
    return {
      http: { enabled: true, host: '127.0.0.1', port: 0 },
      token: 'dev-token-0123456789abcdef',
      qtsAuthUrl: 'http://127.0.0.1:9/cgi-bin/authLogin.cgi',
      allowedHosts: ['127.0.0.1', 'localhost'],
      panelDir: path.join(dir, 'panel'),
      ...over,
    };
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-api-hard-'));
    fs.mkdirSync(path.join(dir, 'panel'));
    fs.writeFileSync(path.join(dir, 'panel', 'index.html'), '<!doctype html><title>panel</title>');
  });
  afterEach(async () => {
    sinon.restore();
    if (api) await api.stop();
    api = null;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the unix socket is never connectable by others, even for a moment under a permissive umask', async () => {
    const modes: number[] = [];
    const chmod = fs.chmodSync;
    sinon.stub(fs, 'chmodSync').callsFake((p: fs.PathLike, mode: fs.Mode) => {
      modes.push(fs.statSync(p).mode & 0o777);
      chmod(p, mode);
    });
    const old = process.umask(0);
    try {
      api = await startApi({ engine: stubEngine(), config: config({ http: { enabled: false, host: '127.0.0.1', port: 0 } }), runDir: path.join(dir, 'run') });
    } finally {
      process.umask(old);
    }
    assert.ok(modes.length > 0);
    for (const m of modes) assert.equal(m & 0o007, 0, `socket was created with mode ${m.toString(8)}`);
    assert.equal(fs.statSync(api.socketPath).mode & 0o777, 0o660);
    assert.equal(process.umask(), old);
  });

  it('serves the panel from a relative panelDir', async () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      api = await startApi({ engine: stubEngine(), config: config({ panelDir: 'panel' }), runDir: path.join(dir, 'run') });
      const r = await call({ base: api.httpUrl as string, path: '/' });
      assert.equal(r.status, 200, r.text);
      assert.match(r.text, /<title>panel<\/title>/);
      assert.equal((await call({ base: api.httpUrl as string, path: '/../secret.txt' })).status, 404);
    } finally {
      process.chdir(cwd);
    }
  });

  it('caps HTTP connections per client and overall at a quarter of the descriptors; a client beyond its share is closed at once', async () => {
    assert.deepEqual(connectionCaps(1024), { descriptorLimit: 1024, overall: 256, perClient: 64 });
    assert.equal(connectionCaps(64).overall, 16);
    assert.equal(connectionCaps(1 << 20).overall, 512);
    assert.ok(descriptorLimit() >= 1024);
    api = await startApi({ engine: stubEngine(), config: config(), runDir: path.join(dir, 'run') });
    const port = Number(new URL(api.httpUrl as string).port);
    const caps = connectionCaps();
    const sockets: net.Socket[] = [];
    const closed = await Promise.all(Array.from({ length: caps.perClient + 20 }, () => new Promise<boolean>(resolve => {
      const s = net.connect(port, '127.0.0.1');
      sockets.push(s);
      s.once('close', () => resolve(true));
      s.once('connect', () => setTimeout(() => resolve(s.destroyed), 500));
    })));
    try {
      assert.equal(closed.filter(Boolean).length, 20, 'the connections beyond the share are closed by the server');
      const r = await new Promise<string>((resolve) => {
        sockets.find(s => !s.destroyed)!.once('data', b => resolve(b.toString())).write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      });
      assert.match(r, /^HTTP\/1\.1 200/, 'the ones within it are served');
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  it('serves only regular files whose real path is inside panelDir: a link out of it is 404, a link within it works', async () => {
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'outside the panel');
    fs.mkdirSync(path.join(dir, 'elsewhere'));
    fs.writeFileSync(path.join(dir, 'elsewhere', 'key.pem'), 'outside too');
    fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(dir, 'panel', 'leak.txt'));
    fs.symlinkSync('../secret.txt', path.join(dir, 'panel', 'relative.txt'));
    fs.symlinkSync(path.join(dir, 'elsewhere'), path.join(dir, 'panel', 'assets'));
    fs.symlinkSync('index.html', path.join(dir, 'panel', 'alias.html'));
    fs.mkdirSync(path.join(dir, 'panel', 'fifo-dir'));
    execFileSync('mkfifo', [path.join(dir, 'panel', 'fifo-dir', 'pipe.js')]);
    api = await startApi({ engine: stubEngine(), config: config(), runDir: path.join(dir, 'run') });
    const get = (p: string) => call({ base: api!.httpUrl as string, path: p });
    for (const p of ['/leak.txt', '/relative.txt', '/assets/key.pem', '/fifo-dir/pipe.js', '/fifo-dir']) {
      const r = await get(p);
      assert.equal(r.status, 404, `${p}: ${r.status} ${r.text}`);
      assert.doesNotMatch(r.text, /outside/);
    }
    const alias = await get('/alias.html');
    assert.equal(alias.status, 200);
    assert.match(alias.text, /<title>panel<\/title>/);
  });

  it('refuses a body with a field twice (JSON.parse would keep the last), naming the field; the engine is not asked', async () => {
    const engine = stubEngine();
    api = await startApi({ engine, config: config(), runDir: path.join(dir, 'run') });
    const raw = '{"address":"203.0.113.7","expiry":{"policy":"fixed","seconds":60},"address":"198.51.100.7"}';
    const r = await call({ socketPath: api.socketPath, method: 'POST', path: '/api/v1/devices', raw, headers: { 'Content-Type': 'application/json' } });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(r.json.error, { code: 'bad_json', message: 'the request body has the field "address" more than once', field: 'address' });
    sinon.assert.notCalled(engine.register);
    const nested = await call({ socketPath: api.socketPath, method: 'POST', path: '/api/v1/devices', headers: { 'Content-Type': 'application/json' },
      raw: '{"address":"203.0.113.7","expiry":{"policy":"fixed","seconds":60,"seconds":43200}}' });
    assert.equal(nested.status, 400);
    assert.equal(nested.json.error.field, 'expiry.seconds');
    const fine = await call({ socketPath: api.socketPath, path: '/api/v1/devices', body: { address: '203.0.113.7', expiry: { policy: 'fixed', seconds: 60 } } });
    assert.equal(fine.status, 201, fine.text);
  });
});
