// The event stream's keep-alive comment and its clean-up on stop, with a short interval.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventStreams, MAX_STREAMS } from '../../module/api/sse';
import { stubEngine } from './helpers';

describe('api: SSE keep-alive and shutdown', () => {
  it('sends a comment line on the interval and ends every stream on closeAll()', async () => {
    const engine = stubEngine();
    const streams = new EventStreams(engine, 30);
    const server = http.createServer((req, res) => streams.serve(req, res, {}));
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const text = await new Promise<string>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/' }, res => {
          let t = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            t += c;
            if ((t.match(/: keep-alive/g) ?? []).length >= 2) streams.closeAll();
          });
          res.on('end', () => resolve(t));
        }).on('error', reject);
      });
      assert.match(text, /^retry: 3000\n: connected\n\n/);
      assert.ok((text.match(/^: keep-alive \d+\n\n/gm) ?? []).length >= 2);
      assert.equal(streams.count, 0);
      assert.equal(engine.listenerCount(), 0);
    } finally {
      server.close();
    }
  });

  it(`refuses a stream beyond ${MAX_STREAMS} open ones`, async () => {
    const engine = stubEngine();
    const streams = new EventStreams(engine, 60_000);
    const server = http.createServer((req, res) => {
      if (!streams.serve(req, res, {})) {
        res.writeHead(503);
        res.end();
      }
    });
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const agent = new http.Agent({ keepAlive: false, maxSockets: 100 });
    const open = (): Promise<number> => new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/', agent }, res => {
        resolve(res.statusCode ?? 0);
        res.resume();
      }).on('error', reject);
    });
    try {
      const codes = [];
      for (let i = 0; i < MAX_STREAMS; i++) codes.push(await open());
      assert.deepEqual([...new Set(codes)], [200]);
      assert.equal(await open(), 503);
      assert.equal(streams.count, MAX_STREAMS);
    } finally {
      streams.closeAll();
      agent.destroy();
      server.close();
    }
  });
});
