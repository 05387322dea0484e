// The client verbs load only the socket client, the formatter and the command line's own helpers: a `sipa`
// command should cost little more than Node's start. Run as a real process against a real HTTP server on a
// unix socket, with a preload that records every module the process loaded.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { checkConfig } from '../../module/config';
import { DEFAULT_RUN_DIR, readReply } from '../../module/cli/client';

const MAIN = path.resolve(__dirname, '..', '..', 'module', 'cli', 'main.js');
/** What a client verb may load of the module; nothing of node_modules. */
const CLIENT_FILES = ['cli/main.js', 'cli/client.js', 'cli/format.js', 'cli/paths.js', 'cli/batch-file.js', 'domain/duration.js', 'config/socket.js'];

const STATUS = {
  enabled: true, enforcing: true, activeDevices: 1, lanNetworks: ['192.0.2.0/24'], clockTrusted: true, ipv6Scope: 'network',
  clockNote: null, storeRecovered: null, storageFull: null, quarantinedRows: 0, unrecordedEnds: 0,
  portal: { configured: false, bound: false, connected: false }, version: '0.1.0',
};
const DEVICE = {
  id: 7, address: '203.0.113.7', addresses: ['203.0.113.7'], state: 'active', label: '', policy: 'fixed', sessionId: null,
  source: 'local', qnapId: null, registeredAt: Date.now(), expiresAt: Date.now() + 3_600_000, endedAt: null, endReason: null,
};

describe('cli: the client verbs load only the client', function () {
  this.timeout(20_000);
  let dir: string;
  let server: http.Server;
  const requests: string[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-fast-'));
    fs.mkdirSync(path.join(dir, 'run'));
    server = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        if (req.url?.startsWith('/api/v1/devices') && req.method === 'GET') {
          // A list comes streamed, as the daemon sends it: chunked, in pieces.
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.write('{"devices":[');
          res.write(Array.from({ length: 300 }, (_, i) => JSON.stringify({ ...DEVICE, id: i + 1 })).join(','));
          res.end(']}');
          return;
        }
        const body = req.url === '/api/v1/status' ? STATUS : { device: DEVICE };
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>(resolve => server.listen(path.join(dir, 'run', 'sipa.sock'), resolve));
    // The preload records what the process loaded, when it exits.
    fs.writeFileSync(path.join(dir, 'record.js'),
      `process.on('exit', () => require('fs').writeFileSync(process.env.SIPA_LOADED, Object.keys(require.cache).join('\\n')));\n`);
  });

  after(async () => {
    await new Promise<void>(resolve => server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function sipa(config: Record<string, unknown>, args: string[]): Promise<{ code: number; stdout: string; stderr: string; loaded: string[] }> {
    const configPath = path.join(dir, 'sipa.json');
    fs.writeFileSync(configPath, JSON.stringify(config));
    const loadedFile = path.join(dir, 'loaded.txt');
    fs.rmSync(loadedFile, { force: true });
    return new Promise(resolve => {
      execFile(process.execPath, ['-r', path.join(dir, 'record.js'), MAIN, ...args, '--config', configPath],
        { env: { ...process.env, SIPA_LOADED: loadedFile }, timeout: 15_000 }, (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          const loaded = fs.readFileSync(loadedFile, 'utf8').split('\n').filter(f => f !== path.join(dir, 'record.js'));
          resolve({ code, stdout, stderr, loaded });
        });
    });
  }

  const moduleRoot = path.resolve(__dirname, '..', '..', 'module');
  const outsideTheClient = (loaded: string[]) =>
    loaded.filter(f => !CLIENT_FILES.some(c => f === path.join(moduleRoot, c)));

  for (const args of [['status'], ['status', '--json'], ['register', '203.0.113.7', '--for', '1h'], ['list'], ['revoke', '7']]) {
    it(`sipa ${args.join(' ')}`, async () => {
      const r = await sipa({ runDir: path.join(dir, 'run'), dataDir: path.join(dir, 'data') }, args);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.loaded.includes(MAIN), `the recording saw main.js: ${r.loaded.join(' ')}`);
      assert.deepEqual(outsideTheClient(r.loaded), [], 'loaded beyond the client');
    });
  }

  it('reads a chunked reply whole', async () => {
    const r = await sipa({ runDir: path.join(dir, 'run') }, ['list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual((JSON.parse(r.stdout) as Array<{ id: number }>).map(d => d.id), Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it('said what it was asked over the socket', () => {
    assert.deepEqual(requests, ['GET /api/v1/status', 'GET /api/v1/status', 'POST /api/v1/devices', 'GET /api/v1/devices',
      'POST /api/v1/devices/7/revoke', 'GET /api/v1/devices']);
  });

  it('with no daemon, names what is wrong in a config the daemon would refuse (exit 2)', async () => {
    const r = await sipa({ runDir: path.join(dir, 'nowhere'), firewall: { action: 'block' } }, ['status']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /firewall\.action must be one of "drop", "reject"/);
  });

  it('with no daemon and a good config, says the daemon is not reachable (exit 3)', async () => {
    const r = await sipa({ runDir: path.join(dir, 'nowhere') }, ['status']);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /not reachable at .*nowhere\/sipa\.sock/);
  });

  it('a runDir the hand check cannot read gets the full validation (exit 2)', async () => {
    const r = await sipa({ runDir: 42 }, ['status']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /runDir must be a string/);
  });

  it("the client's default run dir is the schema's", () => {
    assert.equal(DEFAULT_RUN_DIR, checkConfig({}).runDir);
  });
});

describe('cli: reading a reply', () => {
  const reply = (text: string) => readReply(Buffer.from(text, 'latin1'));
  it('takes the status and a Content-Length body', () => {
    assert.deepEqual(reply('HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}'), { status: 404, text: '{}' });
  });
  it('joins chunks, extensions and trailers aside', () => {
    assert.deepEqual(reply('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\n[1,\r\na\r\n2,3,4,5,6]\r\n0\r\nX-T: 1\r\n\r\n'),
      { status: 200, text: '[1,2,3,4,5,6]' });
  });
  it('refuses a reply cut short, of either kind, and what is not HTTP', () => {
    assert.throws(() => reply('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}'), /cut short/);
    assert.throws(() => reply('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{}'), /cut short/);
    assert.throws(() => reply('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n'), /cut short/);
    assert.throws(() => reply('SSH-2.0-x\r\n\r\n'), /not an HTTP reply/);
    assert.throws(() => reply(''), /nothing came back/);
  });
});
