// Calls to the API under test over HTTP or the unix socket, and a sinon-stubbed EngineApi.
import http from 'node:http';
import sinon from 'sinon';
import type { Device, EngineApi, EngineEvents, Status } from '../../module/engine/contract';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export interface CallOptions {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: unknown;
  raw?: string | Buffer;
  /** http://127.0.0.1:port, or a unix socket path. */
  base?: string;
  socketPath?: string;
}

export function call(o: CallOptions): Promise<Reply> {
  const data = o.raw !== undefined ? o.raw : o.body !== undefined ? JSON.stringify(o.body) : undefined;
  const headers: Record<string, string> = { ...(o.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...o.headers };
  if (data !== undefined) headers['Content-Length'] = String(Buffer.byteLength(data));
  const target = o.socketPath ? { socketPath: o.socketPath } : (() => {
    const u = new URL(o.base as string);
    return { host: u.hostname, port: Number(u.port) };
  })();
  return new Promise((resolve, reject) => {
    const req = http.request({ ...target, method: o.method ?? (data !== undefined ? 'POST' : 'GET'), path: o.path, headers }, res => {
      const chunks: Buffer[] = [];
      res.on('data', c => chunks.push(c as Buffer));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (data !== undefined) req.end(data); else req.end();
  });
}

export function device(over: Partial<Device> = {}): Device {
  const now = Date.now();
  return {
    id: 1, address: '203.0.113.7', addresses: ['203.0.113.7'], family: 4, prefix: 32, label: 'laptop', qnapId: null, source: 'local',
    policy: 'fixed', sessionId: null, registeredAt: now, expiresAt: now + 3_600_000, state: 'active',
    endedAt: null, endedBy: null, endReason: null, ...over,
  };
}

export function status(over: Partial<Status> = {}): Status {
  return {
    enabled: false, enforcing: false, activeDevices: 0, lanNetworks: ['192.168.1.0/24'], clockTrusted: true, clockNote: null, ipv6Scope: 'network', allowUntilRevoked: false,
    storeRecovered: null, storageFull: null, quarantinedRows: 0, unrecordedEnds: 0, portal: { configured: true, bound: true, connected: true }, version: '0.1.0', ...over,
  };
}

type Listener = (payload: unknown) => void;

export interface StubEngine extends EngineApi {
  emit<K extends keyof EngineEvents>(event: K, payload: EngineEvents[K]): void;
  listenerCount(): number;
}

type Stubbed = { [K in 'status' | 'enable' | 'disable' | 'list' | 'firstActive' | 'allows' | 'register' | 'revoke' | 'registerMany' | 'revokeMany' | 'endSession' | 'renewSession' | 'audit']: sinon.SinonStub };

/** Every method a sinon stub; `on` is a small working emitter so SSE can be tested. */
export function stubEngine(): StubEngine & Stubbed {
  const listeners = new Map<string, Set<Listener>>();
  const engine = {
    status: sinon.stub().resolves(status()),
    enable: sinon.stub().resolves(),
    disable: sinon.stub().resolves(),
    list: sinon.stub().resolves([]),
    firstActive: sinon.stub().resolves({ devices: [], total: 0 }),
    allows: sinon.stub().resolves(false),
    register: sinon.stub().callsFake(async (req: { address: string }) => device({ address: req.address })),
    revoke: sinon.stub().resolves(device({ state: 'revoked' })),
    registerMany: sinon.stub().callsFake(async (reqs: Array<{ address: string }>) => ({ devices: reqs.map((r, i) => device({ id: i + 1, address: r.address })), renewed: 0 })),
    revokeMany: sinon.stub().resolves({ revoked: [], notFound: [] }),
    addAddress: sinon.stub().callsFake(async (id: number, address: string) => device({ id, addresses: ['203.0.113.7', address] })),
    // the list route streams pages; the stub's one page is what `list` gives
    async *listPages(opts?: { all?: boolean }) {
      yield await (engine.list as sinon.SinonStub)(opts);
    },
    endSession: sinon.stub().resolves([]),
    renewSession: sinon.stub().resolves([]),
    audit: sinon.stub().resolves([]),
    on(event: string, listener: Listener) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)!.add(listener);
      return () => { listeners.get(event)!.delete(listener); };
    },
    emit(event: string, payload: unknown) {
      for (const l of listeners.get(event) ?? []) l(payload);
    },
    listenerCount() {
      return [...listeners.values()].reduce((n, s) => n + s.size, 0);
    },
  };
  return engine as unknown as StubEngine & Stubbed;
}
