// The daemon's API (module/api/ROUTES.md): one router served on the unix socket (CLI) and on loopback HTTP
// (panel, behind the QTS web server's proxy). Node's own http module; no framework.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http, { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { EventSummary, type Actor, type EngineApi, type LogLevel, type RegisterRequest, type SystemLog } from '../engine';
import { SOCKET_NAME, type ApiConfig } from '../config';
import { MAX_BATCH_BODY, readJsonBody } from './body';
import { connectionCaps } from './descriptors';
import { sendDeviceList } from './stream';
import { ApiError, fromEngineError } from './errors';
import { QtsLookupLimitedError, QtsSessionChecker, QtsUnavailableError, QtsUntrustedError } from './qts-auth';
import { isLanAddress, isLoopback, remoteAddressOf } from './remote';
import { EventStreams } from './sse';
import { DEFAULT_PANEL_DIR, panelFile, sendFile } from './static';
import { checkBody } from './validate';

export type ApiLog = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface ApiDeps {
  engine: EngineApi;
  config: ApiConfig;
  runDir: string;
  log?: ApiLog;
  /** The portal link, for /api/v1/portal (status, bind, unbind); absent = those routes answer 404. */
  portal?: PortalControl;
  /** The NAS's event log: refused session checks (summarised), a web server on the QTS port that is not root's. */
  systemLog?: SystemLog;
}

/** What the API needs of the portal link (module/cloud PortalLink). */
export interface PortalControl {
  status(): unknown;
  bind(opts: { portalUrl?: string | null; code: string }, by: Actor): Promise<unknown>;
  unbind(by: Actor): Promise<unknown>;
}

export interface ApiHandle {
  socketPath: string;
  httpUrl: string | null;
  stop(): Promise<void>;
}


/** Sent with every answer of either listener. The panel needs nothing from another origin. */
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'self'; object-src 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'SAMEORIGIN',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

interface Caller {
  transport: 'unix' | 'http';
  actor: Actor;
  /** What the CSRF token is bound to (the QTS sid or the bearer token); null on the socket. */
  sessionKey: string | null;
}

function cookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    let v = part.slice(i + 1).trim();
    try { v = decodeURIComponent(v); } catch { /* keep raw */ }
    if (k && !(k in out)) out[k] = v;
  }
  return out;
}

function sameSecret(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}

/** "host", "host:port", "[v6]:port" → host and host-with-port forms for the allowlist. */
function hostForms(value: string): string[] {
  const v = value.trim().toLowerCase();
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(v);
  if (!m) return [v];
  const bare = m[1].replace(/^\[|\]$/g, '');
  return [v, m[1], bare];
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(data.length),
    'Cache-Control': 'no-store',
  });
  res.end(data);
}

/** The most a first page (`GET /api/v1/devices?first=N`) may hold. */
const FIRST_PAGE_MAX = 1000;
const IDLE_MS = 30_000;

/**
 * At most caps.overall HTTP connections, caps.perClient from one peer; beyond, a new connection is closed at
 * once. The descriptors left over keep the unix socket, the store and the reconciler working under any load.
 */
function limitConnections(server: http.Server, caps: ReturnType<typeof connectionCaps>, log: ApiLog): void {
  server.maxConnections = caps.overall;
  const perPeer = new Map<string, number>();
  let refused = 0;
  let lastNote = 0;
  server.on('connection', (socket: import('node:net').Socket) => {
    const peer = socket.remoteAddress ?? '?';
    const n = (perPeer.get(peer) ?? 0) + 1;
    if (n > caps.perClient) {
      socket.destroy();
      refused++;
      if (Date.now() - lastNote > 60_000) {
        lastNote = Date.now();
        log('warn', 'api: too many HTTP connections from one client; new ones are closed', { peer, limit: caps.perClient, refusedSinceLastNote: refused });
        refused = 0;
      }
      return;
    }
    perPeer.set(peer, n);
    socket.once('close', () => {
      const left = (perPeer.get(peer) ?? 1) - 1;
      if (left <= 0) perPeer.delete(peer);
      else perPeer.set(peer, left);
    });
  });
}

export async function startApi(deps: ApiDeps): Promise<ApiHandle> {
  const { engine, config } = deps;
  const log: ApiLog = deps.log ?? (() => undefined);
  const csrfKey = crypto.randomBytes(32);
  const systemLog: SystemLog = deps.systemLog ?? (() => undefined);
  const refusedChecks = new EventSummary(systemLog, {
    level: 'warn',
    first: (why, detail) => `refused a QTS session check for the panel: ${why}${detail ? ` (${detail})` : ''}; more are summarised every 5 minutes`,
    more: (n, byKind, minutes) => `refused ${n} more QTS session checks for the panel in the last ${minutes} minutes: ${byKind}`,
  });
  const qts = new QtsSessionChecker({ url: config.qtsAuthUrl, configFile: config.qtsConfigFile }, (reason, detail) => refusedChecks.add(reason, detail));
  const streams = new EventStreams(engine);
  const panelDir = config.panelDir ?? DEFAULT_PANEL_DIR;
  const allowed = new Set(config.allowedHosts.map(h => h.trim().toLowerCase()));

  const csrfFor = (key: string) => crypto.createHmac('sha256', csrfKey).update(key).digest('base64url');
  const hostAllowed = (value: string) => hostForms(value).some(f => allowed.has(f));

  function checkOrigin(req: IncomingMessage): void {
    const host = req.headers.host;
    if (!host || !hostAllowed(host)) {
      throw new ApiError(403, 'foreign_host', `requests for host ${JSON.stringify(host ?? '')} are refused; add it to api.allowedHosts if it is this NAS`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let ok = false;
      try {
        const u = new URL(origin);
        ok = (u.protocol === 'http:' || u.protocol === 'https:') && (hostAllowed(u.host) || u.host === proxiedHost(req));
      } catch { /* "null" and garbage */ }
      if (!ok) throw new ApiError(403, 'foreign_origin', `requests from origin ${JSON.stringify(origin)} are refused`);
    }
  }

  /**
   * Behind QTS's web server the browser's page is on the NAS's own origin, which the proxy (a loopback peer) names
   * in X-Forwarded-Host (its last entry: the one our proxy appended); a same-origin request from that page is no
   * foreign origin. The Host check stays as it is.
   */
  function proxiedHost(req: IncomingMessage): string | null {
    const peer = req.socket.remoteAddress;
    const header = req.headers['x-forwarded-host'];
    if (!peer || !isLoopback(peer.replace(/^::ffff:/, '')) || header === undefined) return null;
    const last = (Array.isArray(header) ? header.join(',') : header).split(',').map(s => s.trim()).filter(Boolean).pop();
    return last ? last.toLowerCase() : null;
  }

  /** The request's path as the daemon serves it: under proxyPath as at /; null when it only lacks the final slash. */
  function servedPath(pathname: string): string | null {
    const prefix = config.proxyPath;
    if (!prefix) return pathname;
    if (pathname === prefix) return null;
    return pathname.startsWith(`${prefix}/`) ? pathname.slice(prefix.length) : pathname;
  }

  async function authenticate(req: IncomingMessage): Promise<Caller> {
    const auth = req.headers.authorization;
    if (auth !== undefined && /^Bearer\s/i.test(auth)) {
      const given = auth.replace(/^Bearer\s+/i, '').trim();
      if (config.token && sameSecret(given, config.token)) {
        return { transport: 'http', actor: { surface: 'panel', name: 'token' }, sessionKey: `token:${config.token}` };
      }
      throw new ApiError(401, 'bad_token', 'the bearer token is not valid');
    }
    const c = cookies(req);
    const sid = c.NAS_SID;
    if (!sid) throw new ApiError(401, 'no_session', 'sign in to QTS as an administrator, then reload this page');
    let s;
    try {
      s = await qts.check(sid, remoteAddressOf(req) ?? req.socket.remoteAddress ?? 'unknown');
    } catch (e) {
      if (e instanceof QtsLookupLimitedError) {
        throw new ApiError(429, e.code, e.message, null, { 'Retry-After': String(e.retryAfterSeconds) });
      }
      log('error', 'api: cannot check the QTS session', { error: (e as Error).message });
      if (e instanceof QtsUntrustedError) {
        systemLog('warn', `panel sign-ins refused: ${e.message}`);
        throw new ApiError(503, e.code, `${e.message}. Only QTS's own web server (run by root) can vouch for a session; ask the NAS's administrator to check what listens on port ${e.port}`);
      }
      throw new ApiError(503, 'auth_unavailable', 'the QTS session cannot be checked right now; try again shortly');
    }
    if (!s.authPassed) throw new ApiError(401, 'bad_session', 'your QTS session has ended; sign in again, then reload this page');
    if (c.NAS_USER !== undefined && c.NAS_USER !== s.username) {
      throw new ApiError(401, 'bad_session', 'the QTS session belongs to another user; sign in again');
    }
    if (!s.isAdmin) throw new ApiError(403, 'not_admin', `only administrators can manage Secure IP Access (signed in as ${s.username})`);
    return { transport: 'http', actor: { surface: 'panel', name: s.username }, sessionKey: `sid:${sid}` };
  }

  function checkCsrf(req: IncomingMessage, caller: Caller): void {
    const given = req.headers['x-csrf-token'];
    if (typeof given !== 'string' || !caller.sessionKey || !sameSecret(given, csrfFor(caller.sessionKey))) {
      throw new ApiError(403, 'csrf', 'the request lacks a valid X-CSRF-Token (from GET /api/v1/session); reload the page');
    }
  }

  function deviceKey(raw: string): number | string {
    let key: string;
    try {
      key = decodeURIComponent(raw);
    } catch {
      throw new ApiError(400, 'bad_address', 'the device in the path is not valid URL text', 'id');
    }
    return /^[0-9]{1,15}$/.test(key) ? Number(key) : key;
  }

  function auditLimit(url: URL): number {
    const raw = url.searchParams.get('limit');
    if (raw === null) return 100;
    if (!/^[0-9]{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) {
      throw new ApiError(400, 'bad_input', 'limit must be a whole number from 1 to 1000', 'limit');
    }
    return Number(raw);
  }

  /** `before` (an entry id) continues a page; `q` keeps the entries that mention it. */
  function auditPage(url: URL): { beforeId?: number; text?: string } {
    const before = url.searchParams.get('before');
    const q = url.searchParams.get('q');
    if (before !== null && !/^[1-9][0-9]{0,14}$/.test(before)) throw new ApiError(400, 'bad_input', 'before must be an audit entry id', 'before');
    // eslint-disable-next-line no-control-regex -- control characters are what it refuses
    if (q !== null && (q.length > 200 || /[\u0000-\u001f\u007f]/.test(q))) throw new ApiError(400, 'bad_input', 'q must be at most 200 printable characters', 'q');
    return { ...(before !== null ? { beforeId: Number(before) } : {}), ...(q ? { text: q } : {}) };
  }

  /** What a handler gets: the request, its caller, the path's captured parts, and the checked body. */
  interface Call {
    req: IncomingMessage;
    res: ServerResponse;
    url: URL;
    caller: Caller;
    params: string[];
    body<T>(schema: Parameters<typeof checkBody>[0], maxBody?: number): Promise<T>;
  }
  type Handler = (c: Call) => Promise<void>;

  const portalLink = () => {
    if (!deps.portal) throw new ApiError(404, 'no_portal', 'this daemon runs without a portal link');
    return deps.portal;
  };
  // Open panels show a binding change as it happens (`portal` event), not at their next reload.
  const announcePortal = async () => streams.announce('portal', (await engine.status()).portal);

  /** Every route, one row each, as module/api/ROUTES.md lists them (test/repo/routes-doc.test.ts holds the two together). */
  const ROUTES: Array<{ path: string | RegExp; http?: 'only'; methods: Partial<Record<'GET' | 'POST', Handler>> }> = [
    { path: '/api/v1/status', methods: { GET: async ({ res }) => sendJson(res, 200, await engine.status()) } },
    { path: '/api/v1/enable', methods: { POST: async ({ res, caller, body }) => {
      await body('api-empty');
      await engine.enable(caller.actor);
      sendJson(res, 200, await engine.status());
    } } },
    { path: '/api/v1/disable', methods: { POST: async ({ res, caller, body }) => {
      await body('api-empty');
      await engine.disable(caller.actor);
      sendJson(res, 200, await engine.status());
    } } },
    { path: '/api/v1/devices', methods: {
      GET: async ({ res, url }) => {
        const first = url.searchParams.get('first');
        if (first !== null) {
          if (!/^[1-9][0-9]{0,3}$/.test(first) || Number(first) > FIRST_PAGE_MAX) throw new ApiError(400, 'bad_input', `first must be a whole number from 1 to ${FIRST_PAGE_MAX}`, 'first');
          return sendJson(res, 200, await engine.firstActive(Number(first)));
        }
        const all = url.searchParams.get('all');
        await sendDeviceList(res, engine.listPages({ all: all === '1' || all === 'true' }), SECURITY_HEADERS);
      },
      POST: async ({ res, caller, body }) => {
        const req = await body<Omit<RegisterRequest, 'source' | 'qnapId'>>('api-register');
        sendJson(res, 201, { device: await engine.register({ ...req, source: 'local', qnapId: null }, caller.actor) });
      },
    } },
    { path: '/api/v1/devices/batch', methods: { POST: async ({ res, caller, body }) => {
      const req = await body<{ devices: Array<Omit<RegisterRequest, 'source' | 'qnapId'>> }>('api-register-batch', MAX_BATCH_BODY);
      const result = await engine.registerMany(req.devices.map(d => ({ ...d, source: 'local', qnapId: null })), caller.actor);
      sendJson(res, 201, { registered: result.devices.length, renewed: result.renewed, ids: result.devices.map(d => d.id) });
    } } },
    { path: '/api/v1/devices/batch-revoke', methods: { POST: async ({ res, caller, body }) => {
      const req = await body<{ devices: Array<number | string>; reason?: string }>('api-revoke-batch', MAX_BATCH_BODY);
      const result = await engine.revokeMany(req.devices, caller.actor, req.reason);
      sendJson(res, 200, { revoked: result.revoked.length, ids: result.revoked.map(d => d.id), notFound: result.notFound });
    } } },
    { path: /^\/api\/v1\/devices\/(\d{1,15})\/addresses$/, methods: { POST: async ({ res, caller, params, body }) => {
      const req = await body<{ address: string }>('api-add-address');
      sendJson(res, 200, { device: await engine.addAddress(Number(params[0]), req.address, caller.actor) });
    } } },
    { path: /^\/api\/v1\/devices\/([^/]+)\/revoke$/, methods: { POST: async ({ res, caller, params, body }) => {
      const req = await body<{ reason?: string }>('api-revoke');
      sendJson(res, 200, { device: await engine.revoke(deviceKey(params[0]), caller.actor, req.reason) });
    } } },
    { path: '/api/v1/audit', methods: { GET: async ({ res, url }) => {
      sendJson(res, 200, { entries: await engine.audit({ limit: auditLimit(url), ...auditPage(url) }) });
    } } },
    { path: '/api/v1/events', methods: { GET: async ({ req, res }) => {
      if (!streams.serve(req, res, SECURITY_HEADERS)) {
        throw new ApiError(503, 'too_many_streams', 'too many event streams are open; close other panel tabs and reload');
      }
    } } },
    { path: '/api/v1/portal', methods: { GET: async ({ res }) => sendJson(res, 200, portalLink().status()) } },
    { path: '/api/v1/portal/bind', methods: { POST: async ({ res, caller, body }) => {
      const link = portalLink();
      const bound = await link.bind(await body<{ portalUrl?: string; code: string }>('api-portal-bind'), caller.actor);
      await announcePortal();
      sendJson(res, 200, bound);
    } } },
    { path: '/api/v1/portal/unbind', methods: { POST: async ({ res, caller, body }) => {
      const link = portalLink();
      await body('api-empty');
      const unbound = await link.unbind(caller.actor);
      await announcePortal();
      sendJson(res, 200, unbound);
    } } },
    { path: '/api/v1/session', http: 'only', methods: { GET: async ({ req, res, caller }) => {
      const status = await engine.status();
      const remoteAddress = remoteAddressOf(req);
      const remoteLan = remoteAddress !== null && isLanAddress(remoteAddress, status.lanNetworks);
      const registered = remoteLan ? true : remoteAddress === null ? false : await engine.allows(remoteAddress);
      sendJson(res, 200, {
        user: caller.actor.name,
        csrfToken: csrfFor(caller.sessionKey as string),
        remoteAddress,
        remoteLan,
        remoteRegistered: registered,
        bound: status.portal.bound,
        portalConfigured: status.portal.configured,
      });
    } } },
  ];

  /** Finds the path's row (404 no_route), then its method's handler (405 with Allow), as wg.c finds a subcommand. */
  async function route(req: IncomingMessage, res: ServerResponse, url: URL, caller: Caller): Promise<void> {
    const p = url.pathname;
    const m = req.method ?? 'GET';
    for (const row of ROUTES) {
      if (row.http === 'only' && caller.transport !== 'http') continue;
      const match = typeof row.path === 'string' ? (row.path === p ? [] : null) : row.path.exec(p)?.slice(1) ?? null;
      if (!match) continue;
      const handler = row.methods[m as 'GET' | 'POST'];
      if (!handler) {
        const allowed = Object.keys(row.methods).join(', ');
        throw new ApiError(405, 'bad_method', `${p} accepts ${allowed} only`, null, { Allow: allowed });
      }
      const body = async <T>(schema: Parameters<typeof checkBody>[0], maxBody?: number): Promise<T> => {
        if (caller.transport === 'http') checkCsrf(req, caller);
        return checkBody<T>(schema, await readJsonBody(req, maxBody));
      };
      return handler({ req, res, url, caller, params: match, body });
    }
    throw new ApiError(404, 'no_route', `there is no ${m} ${p} (see module/api/ROUTES.md)`);
  }

  function fail(res: ServerResponse, err: unknown, req: IncomingMessage): void {
    const { error, unexpected } = fromEngineError(err);
    if (unexpected) log('error', 'api: request failed', { method: req.method, path: req.url, error: (err as Error)?.stack ?? String(err) });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const close: Record<string, string> = error.status === 413 ? { Connection: 'close' } : {};
    sendJson(res, error.status, error.body(), { ...error.headers, ...close });
    if (error.status === 413) res.on('finish', () => req.destroy());
  }

  async function handleUnix(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://sipa.sock');
      const rawUser = req.headers['x-sipa-user'];
      const user = typeof rawUser === 'string' && /^[\w.@-]{1,64}$/.test(rawUser) ? rawUser : 'unknown';
      if (!url.pathname.startsWith('/api/')) throw new ApiError(404, 'no_route', 'the socket serves /api/v1/ only');
      await route(req, res, url, { transport: 'unix', actor: { surface: 'cli', name: user }, sessionKey: null });
    } catch (e) {
      fail(res, e, req);
    }
  }

  async function handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      checkOrigin(req);
      const url = new URL(req.url ?? '/', 'http://localhost');
      const served = servedPath(url.pathname);
      if (served === null) {
        // The panel's relative links need the final slash.
        res.writeHead(301, { ...SECURITY_HEADERS, Location: `${url.pathname}/${url.search}`, 'Content-Length': '0' });
        return void res.end();
      }
      url.pathname = served;
      if (!url.pathname.startsWith('/api/')) {
        const m = req.method ?? 'GET';
        if (m !== 'GET' && m !== 'HEAD') throw new ApiError(405, 'bad_method', 'the panel files are read-only', null, { Allow: 'GET, HEAD' });
        const file = panelFile(panelDir, url.pathname);
        if (!file) throw new ApiError(404, 'not_found', `no panel file ${url.pathname}`);
        return sendFile(res, file, m === 'HEAD', SECURITY_HEADERS);
      }
      const caller = await authenticate(req);
      await route(req, res, url, caller);
    } catch (e) {
      fail(res, e instanceof QtsUnavailableError ? new ApiError(503, e.code, e.message) : e, req);
    }
  }

  // The unix socket: a stale file from a dead daemon is replaced; the mode is the trust.
  fs.mkdirSync(deps.runDir, { recursive: true });
  const socketPath = path.join(deps.runDir, SOCKET_NAME);
  try {
    if (fs.lstatSync(socketPath).isSocket()) fs.unlinkSync(socketPath);
  } catch { /* absent */ }
  const unixServer = http.createServer((req, res) => void handleUnix(req, res));
  await new Promise<void>((resolve, reject) => {
    unixServer.once('error', reject);
    // bind() creates the node with the umask's mode; under a permissive umask others could connect before the
    // chmod below, and such a connection outlives it. The bind happens inside listen(), so a narrow umask
    // around the call is enough.
    const umask = process.umask(0o177);
    try {
      unixServer.listen(socketPath, () => resolve());
    } finally {
      process.umask(umask);
    }
  });
  fs.chmodSync(socketPath, 0o660);

  let httpServer: http.Server | null = null;
  let httpUrl: string | null = null;
  if (config.http.enabled) {
    // Slow and idle clients are cut off: headers within 10 s of the first byte, a whole request within 30 s,
    // an idle kept-alive connection after 5 s, and a connection that says nothing (or an event stream whose
    // client stopped reading: streams write every 15 s) after 30 s.
    const server = http.createServer({
      headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, connectionsCheckingInterval: 1_000,
    }, (req, res) => void handleHttp(req, res));
    server.timeout = IDLE_MS;
    limitConnections(server, connectionCaps(), log);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.http.port, config.http.host, () => resolve());
      });
    } catch (e) {
      unixServer.close();
      throw e;
    }
    httpServer = server;
    const a = server.address() as AddressInfo;
    httpUrl = `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  }
  log('info', 'api: listening', { socket: socketPath, http: httpUrl, panelDir, httpConnections: config.http.enabled ? connectionCaps() : null });

  return {
    socketPath,
    httpUrl,
    async stop() {
      streams.closeAll();
      const closing = [unixServer, httpServer].filter((s): s is http.Server => s !== null).map(s => new Promise<void>(resolve => {
        s.close(() => resolve());
        s.closeAllConnections();
      }));
      await Promise.all(closing);
      try { fs.unlinkSync(socketPath); } catch { /* gone */ }
      qts.clear();
      refusedChecks.flush();
      refusedChecks.stop();
    },
  };
}
