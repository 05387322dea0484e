// The dev portal: plays myQNAPcloud for the demo and the tests. Web pages (pages.ts), a JSON API (API.md)
// and the NAS side of module/cloud/PROTOCOL.md. Never shipped.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomToken, signMessage, verifyMessage } from '../../module/cloud/keys';
import { check } from '../../module/cloud/schemas';
import { renderPage, type PageContext } from './pages';
import { loadState, saveState, type Account, type NasRecord, type PortalDevice, type PortalState, type Session } from './state';

export interface DevPortalOptions {
  host: string;
  port: number;
  accounts: Account[];
  stateFile?: string;
  /** Lease given to "this session" registrations (s); default 300. */
  leaseSeconds?: number;
  /** How often leases are renewed (s); default leaseSeconds / 3. */
  leaseRenewSeconds?: number;
  /** Longest fixed period offered (hours); default 12. */
  maxHours?: number;
  /** Validity of each command envelope (s); default 300. */
  envelopeSeconds?: number;
  /** Let the JSON API and the form name the address to register (tests on 127.0.0.1; never a real portal). */
  allowAddressOverride?: boolean;
  /** The portal's clock (ms). */
  now?: () => number;
  log?: (line: string) => void;
}

export interface AckRecord { nasId: string; seq: number; ok: boolean; type: string | null; ack: Record<string, unknown> }

export interface DevPortal {
  url: string;
  port: number;
  publicKey: string;
  stop(): Promise<void>;
  /** Direct access for tests and the demo. */
  state: PortalState;
  acks: AckRecord[];
  reports: Array<{ nasId: string; report: Record<string, unknown> }>;
  connected(nasId: string): boolean;
  /** Signs and sends a command to a connected NAS now; returns the envelope, or null if not connected. */
  sendCommand(nasId: string, type: string, body: Record<string, unknown>, over?: Record<string, unknown>): Record<string, unknown> | null;
  /** Writes raw `data` as a command event on the NAS's stream (tests of refusals). */
  sendRaw(nasId: string, data: string): boolean;
  /** Resolves once a NAS acked seq (or rejects after timeoutMs). */
  waitForAck(nasId: string, seq: number, timeoutMs?: number): Promise<AckRecord>;
}

class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const CODE_TTL_MS = 10 * 60_000;
const CHALLENGE_TTL_MS = 60_000;

interface Stream { res: http.ServerResponse; nonce: string; timer: NodeJS.Timeout }

/** "::ffff:198.51.100.7" → "198.51.100.7"; IPv6 lower-cased without zone. */
export function normaliseRemote(address: string | undefined): string {
  const a = (address ?? '').replace(/%.*$/, '').toLowerCase();
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  return m ? m[1] : a;
}

export async function startDevPortal(opts: DevPortalOptions): Promise<DevPortal> {
  const now = opts.now ?? Date.now;
  const log = opts.log ?? (() => undefined);
  const leaseSeconds = opts.leaseSeconds ?? 300;
  const renewMs = (opts.leaseRenewSeconds ?? Math.max(1, leaseSeconds / 3)) * 1000;
  const envelopeMs = (opts.envelopeSeconds ?? 300) * 1000;
  const maxHours = opts.maxHours ?? 12;
  const state = loadState(opts.stateFile);
  const accounts = new Map(opts.accounts.map((a) => [a.qnapId, a.password]));
  const streams = new Map<string, Stream>();
  const challenges = new Map<string, { nasId: string; expiresAt: number }>();
  const sent = new Map<string, { type: string; body: Record<string, unknown> }>();
  const acks: AckRecord[] = [];
  const reports: DevPortal['reports'] = [];
  const ackWaiters: Array<{ nasId: string; seq: number; resolve: (a: AckRecord) => void }> = [];
  const save = (): void => saveState(opts.stateFile, state);

  // ---- state helpers ------------------------------------------------------------------------------
  const nasById = (nasId: string): NasRecord | undefined => state.nases.find((n) => n.nasId === nasId);
  const sessionByToken = (token: string | null): Session | undefined => (token ? state.sessions.find((s) => s.token === token) : undefined);

  /** Marks fixed entries past their end as expired (the NAS's kernel drops them by itself). */
  function settle(nas: NasRecord): void {
    const t = now();
    for (const d of nas.devices) {
      if (d.state === 'active' && d.policy === 'fixed' && d.expiresAt !== null && d.expiresAt <= t) {
        d.state = 'expired';
        d.endedAt = d.expiresAt;
      }
    }
  }

  function sendCommand(nasId: string, type: string, body: Record<string, unknown>, over: Record<string, unknown> = {}): Record<string, unknown> | null {
    const nas = nasById(nasId);
    const stream = streams.get(nasId);
    if (!nas || !stream) return null;
    nas.seq += 1;
    save();
    const issuedAt = now();
    const env = signMessage('portal', {
      v: 1, nasId, seq: nas.seq, issuedAt, expiresAt: issuedAt + envelopeMs, nonce: randomToken(16), type, body, ...over,
    }, state.key.privateKey);
    sent.set(`${nasId}:${nas.seq}`, { type, body });
    stream.res.write(`event: command\ndata: ${JSON.stringify(env)}\n\n`);
    log(`dev portal: → ${nasId} seq ${nas.seq} ${type}`);
    return env;
  }

  function resyncBody(nas: NasRecord): Record<string, unknown> {
    settle(nas);
    return {
      devices: nas.devices.filter((d) => d.state === 'active').map((d) => ({
        ref: d.ref, deviceId: d.deviceId, address: d.address, label: d.label, qnapId: d.qnapId,
        expiry: d.policy === 'fixed'
          ? { policy: 'fixed', expiresAt: d.expiresAt as number }
          : { policy: 'session', sessionId: d.sessionId as string, leaseSeconds },
      })),
    };
  }

  function register(session: Session, nasId: string, input: { address: string; label: string; seconds: number | null }): { device: PortalDevice; sent: boolean } {
    const nas = nasById(nasId);
    if (!nas || nas.qnapId !== session.qnapId) throw new HttpError(404, 'not_found', `no NAS ${nasId} on this QNAP ID`);
    settle(nas);
    for (const d of nas.devices) {
      if (d.state === 'active' && d.address === input.address) { d.state = 'replaced'; d.endedAt = now(); }
    }
    const device: PortalDevice = {
      ref: `r${state.nextRef++}`, address: input.address, label: input.label, qnapId: session.qnapId,
      policy: input.seconds === null ? 'session' : 'fixed', seconds: input.seconds,
      sessionId: input.seconds === null ? session.sessionId : null, registeredAt: now(),
      expiresAt: input.seconds === null ? null : now() + input.seconds * 1000, state: 'active', deviceId: null, endedAt: null, note: null,
    };
    nas.devices.push(device);
    save();
    const env = sendCommand(nasId, 'register', {
      ref: device.ref, address: device.address, label: device.label, qnapId: device.qnapId,
      expiry: device.policy === 'fixed'
        ? { policy: 'fixed', seconds: device.seconds as number }
        : { policy: 'session', sessionId: device.sessionId as string, leaseSeconds },
    });
    return { device, sent: env !== null };
  }

  function revoke(session: Session, nasId: string, ref: string, reason: string): { device: PortalDevice; sent: boolean } {
    const nas = nasById(nasId);
    if (!nas || nas.qnapId !== session.qnapId) throw new HttpError(404, 'not_found', `no NAS ${nasId} on this QNAP ID`);
    settle(nas);
    const device = nas.devices.find((d) => d.ref === ref);
    if (!device) throw new HttpError(404, 'not_found', `no device ${ref} on NAS ${nasId}`);
    if (device.state !== 'active') throw new HttpError(409, 'conflict', `device ${ref} is already ${device.state}`);
    device.state = 'revoked';
    device.endedAt = now();
    device.note = reason;
    save();
    const body: Record<string, unknown> = { ref, reason, qnapId: session.qnapId };
    if (device.deviceId !== null) body.deviceId = device.deviceId; else body.address = device.address;
    return { device, sent: sendCommand(nasId, 'revoke', body) !== null };
  }

  function signOut(session: Session): void {
    state.sessions = state.sessions.filter((s) => s !== session);
    for (const nas of state.nases) {
      const mine = nas.devices.filter((d) => d.state === 'active' && d.sessionId === session.sessionId);
      if (mine.length === 0) continue;
      for (const d of mine) { d.state = 'ended'; d.endedAt = now(); d.note = 'signed out'; }
      sendCommand(nas.nasId, 'session-ended', { sessionId: session.sessionId, qnapId: session.qnapId, reason: 'signed out of the portal' });
    }
    save();
  }

  function signIn(qnapId: string, password: string): Session {
    const expected = accounts.get(qnapId);
    const ok = expected !== undefined && expected.length === password.length
      && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(password));
    if (!ok) throw new HttpError(401, 'bad_credentials', 'QNAP ID or password is wrong');
    const session: Session = { token: randomToken(24), sessionId: `s-${randomToken(12)}`, qnapId, csrf: randomToken(16), createdAt: now() };
    state.sessions.push(session);
    save();
    return session;
  }

  function newCode(session: Session): { code: string; expiresAt: number } {
    const bytes = crypto.randomBytes(8);
    const code = Array.from(bytes, (b) => CODE_ALPHABET[b % CODE_ALPHABET.length]).join('');
    const expiresAt = now() + CODE_TTL_MS;
    state.codes = state.codes.filter((c) => !c.used && c.expiresAt > now());
    state.codes.push({ code, qnapId: session.qnapId, expiresAt, used: false });
    save();
    return { code, expiresAt };
  }

  function parseExpiry(value: unknown): number | null {
    if (value === 'session') return null;
    const seconds = typeof value === 'object' && value !== null ? (value as { seconds?: unknown }).seconds : Number(value);
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 60 || seconds > maxHours * 3600) {
      throw new HttpError(400, 'bad_expiry', `expiry must be "session" or { "seconds": 60..${maxHours * 3600} }`);
    }
    return seconds;
  }

  function addressFor(req: http.IncomingMessage, given: unknown): string {
    if (given !== undefined && given !== null && given !== '') {
      if (!opts.allowAddressOverride) throw new HttpError(400, 'bad_address', 'this portal registers the address it sees; it does not take one');
      if (typeof given !== 'string' || given.length > 64) throw new HttpError(400, 'bad_address', 'address must be text');
      return given;
    }
    return normaliseRemote(req.socket.remoteAddress);
  }

  // ---- NAS protocol -------------------------------------------------------------------------------
  function nasRequest(body: unknown, type: string): NasRecord {
    const bad = check('messages', 'request', body, 'request');
    if (bad) throw new HttpError(400, 'malformed', bad);
    const m = body as Record<string, unknown>;
    if (m.type !== type) throw new HttpError(400, 'malformed', `expected a ${type} request`);
    const nas = nasById(m.nasId as string);
    if (!nas) throw new HttpError(403, 'unknown_nas', `NAS ${String(m.nasId)} is not bound to this portal`);
    const ch = challenges.get(m.challenge as string);
    challenges.delete(m.challenge as string);
    if (!ch || ch.nasId !== nas.nasId || ch.expiresAt < now()) throw new HttpError(401, 'bad_challenge', 'challenge unknown, used or expired');
    if (!verifyMessage('nas', m, nas.publicKey)) throw new HttpError(401, 'bad_signature', 'signature does not verify with the NAS key');
    nas.lastContactAt = now();
    return nas;
  }

  function onAck(nas: NasRecord, ack: Record<string, unknown>): void {
    const seq = ack.seq as number;
    const what = sent.get(`${nas.nasId}:${seq}`);
    const rec: AckRecord = { nasId: nas.nasId, seq, ok: ack.ok as boolean, type: what?.type ?? null, ack };
    acks.push(rec);
    for (const r of (ack.results ?? []) as Array<Record<string, unknown>>) {
      const device = typeof r.ref === 'string' ? nas.devices.find((d) => d.ref === r.ref) : undefined;
      if (!device) continue;
      if (r.ok === true && typeof r.deviceId === 'number') device.deviceId = r.deviceId;
      if (r.ok === false && device.state === 'active') {
        if (r.code === 'ended') {
          device.state = r.state === 'expired' ? 'expired' : 'revoked';
          device.deviceId = (r.deviceId as number) ?? device.deviceId;
          device.note = 'ended on the NAS';
        } else {
          device.state = 'failed';
          device.note = `${String(r.code)}: ${String(r.message ?? '')}`;
        }
        device.endedAt = now();
      }
    }
    if (ack.ok === false) log(`dev portal: NAS ${nas.nasId} refused seq ${seq}: ${JSON.stringify(ack.error)}`);
    for (const w of ackWaiters.splice(0)) {
      if (w.nasId === nas.nasId && w.seq === seq) w.resolve(rec); else ackWaiters.push(w);
    }
  }

  function onReport(nas: NasRecord, report: Record<string, unknown>): void {
    reports.push({ nasId: nas.nasId, report });
    // By the NAS id first: a report of a device the portal already ended (revoked here, then registered again at
    // the same address) must not end the new registration whose ack has not come yet. The address only names
    // a device whose id the portal has not learnt.
    const known = nas.devices.find((d) => d.deviceId === report.deviceId);
    const device = known
      ? (known.state === 'active' ? known : undefined)
      : nas.devices.find((d) => d.state === 'active' && d.deviceId === null && d.address === report.address);
    if (!device) return;
    device.state = report.event === 'expired' ? 'expired' : 'revoked';
    device.deviceId = report.deviceId as number;
    device.endedAt = now();
    device.note = `on the NAS${report.by ? ` by ${String(report.by)}` : ''}${report.reason ? `: ${String(report.reason)}` : ''}`;
  }

  function openStreamFor(nas: NasRecord, body: Record<string, unknown>, res: http.ServerResponse): void {
    const bad = check('messages', 'open', body, 'body');
    if (bad) throw new HttpError(400, 'malformed', bad);
    streams.get(nas.nasId)?.res.end();
    const heartbeatMs = Math.min(300_000, Math.max(500, body.heartbeatMs as number));
    const nonce = body.streamNonce as string;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.flushHeaders();
    const write = (event: string, msg: Record<string, unknown>): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(signMessage('portal', msg, state.key.privateKey))}\n\n`);
    };
    write('hello', { v: 1, type: 'hello', nasId: nas.nasId, stream: nonce, now: now(), lastSeq: nas.seq, heartbeatMs });
    const timer = setInterval(() => write('heartbeat', { v: 1, type: 'heartbeat', nasId: nas.nasId, stream: nonce, now: now() }), heartbeatMs);
    const stream: Stream = { res, nonce, timer };
    streams.set(nas.nasId, stream);
    res.on('close', () => {
      clearInterval(timer);
      if (streams.get(nas.nasId) === stream) streams.delete(nas.nasId);
      log(`dev portal: NAS ${nas.nasId} disconnected`);
    });
    log(`dev portal: NAS ${nas.nasId} connected (after seq ${String(body.after)})`);
    sendCommand(nas.nasId, 'resync', resyncBody(nas));
  }

  async function handleNas(req: http.IncomingMessage, res: http.ServerResponse, route: string): Promise<void> {
    const body = await readJson(req, 1 << 20);
    if (route === 'bind') {
      const bad = check('messages', 'bind', body, 'bind');
      if (bad) throw new HttpError(400, 'malformed', bad);
      const m = body as Record<string, unknown>;
      if (!verifyMessage('nas', m, m.nasPublicKey as string)) throw new HttpError(401, 'bad_signature', 'bind request is not signed by the key it carries');
      const code = state.codes.find((c) => c.code === m.code);
      if (!code) throw new HttpError(404, 'bad_code', 'no such pairing code; ask the portal for a new one');
      if (code.used) throw new HttpError(409, 'code_used', 'this pairing code was already used');
      if (code.expiresAt < now()) throw new HttpError(410, 'code_expired', 'this pairing code has expired; ask the portal for a new one');
      code.used = true;
      const nas: NasRecord = {
        nasId: `nas-${randomToken(9)}`, qnapId: code.qnapId, name: m.nasName as string, publicKey: m.nasPublicKey as string,
        boundAt: now(), seq: 0, lastContactAt: now(), devices: [],
      };
      state.nases.push(nas);
      save();
      log(`dev portal: bound ${nas.nasId} (${nas.name}) to ${nas.qnapId}`);
      return sendJson(res, 200, signMessage('portal', {
        v: 1, type: 'bound', nasId: nas.nasId, qnapId: nas.qnapId, nasPublicKey: nas.publicKey, portalPublicKey: state.key.publicKey, now: now(),
      }, state.key.privateKey));
    }
    if (route === 'challenge') {
      const m = (body ?? {}) as Record<string, unknown>;
      if (m.v !== 1 || typeof m.nasId !== 'string') throw new HttpError(400, 'malformed', 'expected { v: 1, nasId }');
      if (!nasById(m.nasId)) throw new HttpError(403, 'unknown_nas', `NAS ${m.nasId} is not bound to this portal`);
      for (const [k, c] of challenges) if (c.expiresAt < now()) challenges.delete(k);
      const challenge = randomToken(32);
      challenges.set(challenge, { nasId: m.nasId, expiresAt: now() + CHALLENGE_TTL_MS });
      return sendJson(res, 200, signMessage('portal', { v: 1, type: 'challenge', nasId: m.nasId, challenge, now: now() }, state.key.privateKey));
    }
    if (route === 'stream') {
      const nas = nasRequest(body, 'open');
      return openStreamFor(nas, (body as { body: Record<string, unknown> }).body, res);
    }
    if (route === 'messages') {
      const nas = nasRequest(body, 'messages');
      const inner = (body as { body: Record<string, unknown> }).body;
      const bad = check('messages', 'messages', inner, 'body');
      if (bad) throw new HttpError(400, 'malformed', bad);
      for (const a of inner.acks as Array<Record<string, unknown>>) onAck(nas, a);
      for (const r of inner.reports as Array<Record<string, unknown>>) onReport(nas, r);
      save();
      return sendJson(res, 200, { ok: true });
    }
    if (route === 'unbind') {
      const nas = nasRequest(body, 'unbind');
      state.nases = state.nases.filter((n) => n !== nas);
      streams.get(nas.nasId)?.res.end();
      save();
      log(`dev portal: NAS ${nas.nasId} unbound itself`);
      return sendJson(res, 200, { ok: true });
    }
    throw new HttpError(404, 'not_found', 'no such NAS route');
  }

  // ---- JSON API and pages -------------------------------------------------------------------------
  function sessionOf(req: http.IncomingMessage): Session | undefined {
    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (auth) return sessionByToken(auth[1]);
    const cookie = /(?:^|;\s*)sid=([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? '');
    return sessionByToken(cookie ? cookie[1] : null);
  }

  function nasView(nas: NasRecord): Record<string, unknown> {
    settle(nas);
    return { nasId: nas.nasId, name: nas.name, boundAt: nas.boundAt, connected: streams.has(nas.nasId), lastContactAt: nas.lastContactAt, seq: nas.seq };
  }

  async function handleApi(req: http.IncomingMessage, res: http.ServerResponse, parts: string[]): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'POST' && !String(req.headers['content-type'] ?? '').startsWith('application/json')) {
      throw new HttpError(415, 'bad_content_type', 'send JSON (Content-Type: application/json)');
    }
    const body = method === 'POST' ? ((await readJson(req, 65536)) ?? {}) as Record<string, unknown> : {};
    if (method === 'POST' && parts[0] === 'signin') {
      const s = signIn(String(body.qnapId ?? ''), String(body.password ?? ''));
      res.setHeader('set-cookie', `sid=${s.token}; HttpOnly; SameSite=Lax; Path=/`);
      return sendJson(res, 200, { token: s.token, sessionId: s.sessionId, qnapId: s.qnapId });
    }
    const session = sessionOf(req);
    if (!session) throw new HttpError(401, 'not_signed_in', 'sign in first (POST /api/v1/signin)');
    if (method === 'POST' && parts[0] === 'signout') {
      signOut(session);
      res.setHeader('set-cookie', 'sid=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0');
      return sendJson(res, 200, { ok: true });
    }
    if (method === 'GET' && parts[0] === 'me') {
      return sendJson(res, 200, { qnapId: session.qnapId, sessionId: session.sessionId, address: normaliseRemote(req.socket.remoteAddress) });
    }
    if (method === 'POST' && parts[0] === 'pairing-codes') return sendJson(res, 201, newCode(session));
    if (parts[0] === 'nas') {
      const mine = state.nases.filter((n) => n.qnapId === session.qnapId);
      if (method === 'GET' && parts.length === 1) return sendJson(res, 200, { nas: mine.map(nasView) });
      const nas = mine.find((n) => n.nasId === parts[1]);
      if (!nas) throw new HttpError(404, 'not_found', `no NAS ${parts[1]} on this QNAP ID`);
      if (method === 'GET' && parts[2] === 'devices' && parts.length === 3) {
        settle(nas);
        const all = (req.url ?? '').includes('all=1');
        return sendJson(res, 200, { devices: nas.devices.filter((d) => all || d.state === 'active') });
      }
      if (method === 'POST' && parts[2] === 'devices' && parts.length === 3) {
        const seconds = parseExpiry(body.expiry);
        const label = typeof body.label === 'string' ? body.label.slice(0, 64) : '';
        const out = register(session, nas.nasId, { address: addressFor(req, body.address), label, seconds });
        return sendJson(res, 201, out);
      }
      if (method === 'POST' && parts[2] === 'devices' && parts[4] === 'revoke') {
        const reason = typeof body.reason === 'string' && body.reason ? body.reason.slice(0, 200) : `revoked on the portal by ${session.qnapId}`;
        return sendJson(res, 200, revoke(session, nas.nasId, parts[3], reason));
      }
    }
    throw new HttpError(404, 'not_found', `no route ${method} /api/v1/${parts.join('/')}`);
  }

  async function handlePage(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    let session = sessionOf(req);
    const form = method === 'POST' ? await readForm(req) : new URLSearchParams();
    const ctx: PageContext = { session: session ?? null, address: normaliseRemote(req.socket.remoteAddress), maxHours, allowAddressOverride: opts.allowAddressOverride === true, nases: [], flash: null, error: null, code: null, nas: null, leaseSeconds };
    const redirect = (to: string): void => { res.writeHead(303, { location: to }); res.end(); };
    if (method === 'POST' && path === '/signin') {
      try {
        session = signIn(form.get('qnapId') ?? '', form.get('password') ?? '');
        res.setHeader('set-cookie', `sid=${session.token}; HttpOnly; SameSite=Lax; Path=/`);
        return redirect('/');
      } catch (e) {
        ctx.error = (e as Error).message;
        return sendHtml(res, 401, renderPage('signin', ctx));
      }
    }
    if (!session) {
      if (path !== '/') return redirect('/');
      return sendHtml(res, 200, renderPage('signin', ctx));
    }
    if (method === 'POST' && form.get('csrf') !== session.csrf) throw new HttpError(403, 'csrf', 'the form is stale; reload the page');
    ctx.nases = state.nases.filter((n) => n.qnapId === session.qnapId).map((n) => { settle(n); return { ...n, connected: streams.has(n.nasId) }; });
    if (method === 'POST' && path === '/signout') {
      signOut(session);
      res.setHeader('set-cookie', 'sid=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0');
      return redirect('/');
    }
    if (method === 'POST' && path === '/pair') {
      ctx.code = newCode(session);
      return sendHtml(res, 200, renderPage('nases', ctx));
    }
    if (path === '/') return sendHtml(res, 200, renderPage('nases', ctx));
    const m = /^\/nas\/([A-Za-z0-9_-]+)(?:\/devices(?:\/([A-Za-z0-9]+)\/revoke)?)?$/.exec(path);
    const nas = m ? ctx.nases.find((n) => n.nasId === m[1]) : undefined;
    if (!m || !nas) throw new HttpError(404, 'not_found', 'no such page');
    if (method === 'POST' && path.endsWith('/devices')) {
      const expiry = form.get('expiry') ?? 'session';
      const out = register(session, nas.nasId, { address: addressFor(req, form.get('address') || undefined), label: (form.get('label') ?? '').slice(0, 64), seconds: parseExpiry(expiry === 'session' ? 'session' : Number(expiry)) });
      return redirect(`/nas/${nas.nasId}?flash=${encodeURIComponent(`Registered ${out.device.address}${out.sent ? '' : ' (the NAS is offline; it gets it when it reconnects)'}`)}`);
    }
    if (method === 'POST' && m[2]) {
      const out = revoke(session, nas.nasId, m[2], `revoked on the portal by ${session.qnapId}`);
      return redirect(`/nas/${nas.nasId}?flash=${encodeURIComponent(`Revoked ${out.device.address}`)}`);
    }
    ctx.nas = nas;
    ctx.flash = new URL(req.url ?? '/', 'http://x').searchParams.get('flash');
    return sendHtml(res, 200, renderPage('nas', ctx));
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://dev-portal');
    const path = url.pathname;
    const run = async (): Promise<void> => {
      const nasRoute = /^\/api\/nas\/v1\/([a-z]+)$/.exec(path);
      if (nasRoute && req.method === 'POST') return handleNas(req, res, nasRoute[1]);
      if (path.startsWith('/api/v1/')) return handleApi(req, res, path.slice('/api/v1/'.length).split('/').filter(Boolean));
      if (path === '/api/v1') throw new HttpError(404, 'not_found', 'see scripts/dev-portal/API.md');
      return handlePage(req, res, path);
    };
    run().catch((e: unknown) => {
      const err = e instanceof HttpError ? e : new HttpError(500, 'internal', (e as Error).message);
      if (err.status === 500) log(`dev portal: ${String((e as Error).stack)}`);
      if (res.headersSent) { res.end(); return; }
      if (path.startsWith('/api/')) sendJson(res, err.status, { error: { code: err.code, message: err.message } });
      else sendHtml(res, err.status, renderPage('error', { ...emptyCtx(leaseSeconds, maxHours), error: err.message }));
    });
  });

  const renewTimer = setInterval(() => {
    const live = new Set(state.sessions.map((s) => s.sessionId));
    for (const nas of state.nases) {
      if (!streams.has(nas.nasId)) continue;
      const sessions = new Set(nas.devices.filter((d) => d.state === 'active' && d.sessionId && live.has(d.sessionId)).map((d) => d.sessionId as string));
      for (const sessionId of sessions) sendCommand(nas.nasId, 'lease-renew', { sessionId, leaseSeconds });
    }
  }, renewMs);
  renewTimer.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  const hostText = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const url = `http://${hostText}:${port}`;
  log(`dev portal: listening on ${url}; portal key ${state.key.publicKey}`);

  return {
    url, port, publicKey: state.key.publicKey, state, acks, reports,
    connected: (nasId) => streams.has(nasId),
    sendCommand,
    sendRaw(nasId, data) {
      const s = streams.get(nasId);
      if (!s) return false;
      s.res.write(`event: command\ndata: ${data}\n\n`);
      return true;
    },
    waitForAck(nasId, seq, timeoutMs = 5000) {
      const have = acks.find((a) => a.nasId === nasId && a.seq === seq);
      if (have) return Promise.resolve(have);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ack of seq ${seq} from ${nasId} within ${timeoutMs} ms`)), timeoutMs);
        ackWaiters.push({ nasId, seq, resolve: (a) => { clearTimeout(t); resolve(a); } });
      });
    },
    async stop() {
      clearInterval(renewTimer);
      for (const s of streams.values()) { clearInterval(s.timer); s.res.destroy(); }
      streams.clear();
      save();
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
    },
  };
}

function emptyCtx(leaseSeconds: number, maxHours: number): PageContext {
  return { session: null, address: '', maxHours, allowAddressOverride: false, nases: [], flash: null, error: null, code: null, nas: null, leaseSeconds };
}

function readRaw(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) { reject(new HttpError(413, 'too_large', `request body over ${limit} bytes`)); req.destroy(); } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
  const text = await readRaw(req, limit);
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'malformed', 'request body is not JSON');
  }
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams(await readRaw(req, 16384));
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function sendHtml(res: http.ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
  });
  res.end(html);
}
