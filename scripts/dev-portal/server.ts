// The dev portal: plays myQNAPcloud for the demo and the tests. Web pages (pages.ts), a JSON API (API.md)
// and the NAS side of module/cloud/PROTOCOL.md. Never shipped.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomToken, signMessage, verifyMessage } from '../../module/cloud/keys';
import { check } from '../../module/cloud/schemas';
import { DEVICE_SCRIPT, renderPage, type PageContext } from './pages';
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
  /**
   * Listeners that answer over one family only, as dual-stack test sites do (API.md, "Both families"): the
   * registration page calls each, so the portal sees the device's IPv4 and its IPv6 address itself.
   * Host defaults: 0.0.0.0 and :: (IPv6 only); port 0 takes a free one.
   */
  ipv4Only?: { host?: string; port: number };
  ipv6Only?: { host?: string; port: number };
  /**
   * The URLs of those listeners as devices reach them (default: their own address when it is a specific one);
   * `byHost`: other URLs for pages served under that Host header (a bridge into a namespace).
   */
  probeUrls?: { 4?: string | null; 6?: string | null; byHost?: Record<string, { 4: string | null; 6: string | null }> };
  /** How often an open registration page renews from where the device is, on each family (s); default 60. */
  pageRenewSeconds?: number;
  /** IPv6 addresses registered per device at most; default 4, the NAS's default policy.maxIpv6PerDevice. */
  maxIpv6PerDevice?: number;
  /** The portal's clock (ms). */
  now?: () => number;
  log?: (line: string) => void;
}

export interface AckRecord { nasId: string; seq: number; ok: boolean; type: string | null; ack: Record<string, unknown> }

export interface DevPortal {
  url: string;
  port: number;
  /** The single-family listeners as this machine reaches them, or null where there is none. */
  ipv4OnlyUrl: string | null;
  ipv6OnlyUrl: string | null;
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

/**
 * What the portal saw of one signed-in browser page (or API client) under a token: the addresses its requests
 * came from, and the devices it registered. Never an address the device states.
 */
interface Sighting { token: string; sessionId: string; createdAt: number; seen: Array<{ address: string; at: number }>; refs: string[] }

/** A registration uses what was seen in the last 10 minutes: an older address may be gone. */
const SIGHTING_FRESH_MS = 10 * 60_000;
const SIGHTINGS_PER_SESSION = 16;

export type Family = 4 | 6;
export const familyOf = (address: string): Family => (address.includes(':') ? 6 : 4);

export interface AddedAddress { nasId: string; ref: string; deviceId: number; address: string; sent: boolean }

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
  const maxIpv6 = opts.maxIpv6PerDevice ?? 4;
  const pageRenewSeconds = opts.pageRenewSeconds ?? 60;
  const sightings = new Map<string, Sighting>();
  /** register-device commands that complete a resync: their failure leaves the device its first address. */
  const followUps = new Set<string>();
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

  // ---- both families: sightings, registration of a device, renewal from a new address ---------------
  function newSighting(session: Session, address: string): Sighting {
    const s: Sighting = { token: randomToken(24), sessionId: session.sessionId, createdAt: now(), seen: [{ address, at: now() }], refs: [] };
    const mine = [...sightings.values()].filter((x) => x.sessionId === session.sessionId);
    for (const old of mine.slice(0, Math.max(0, mine.length - SIGHTINGS_PER_SESSION + 1))) sightings.delete(old.token);
    sightings.set(s.token, s);
    return s;
  }

  function noteSighting(s: Sighting, address: string): void {
    s.seen = [...s.seen.filter((x) => x.address !== address), { address, at: now() }];
  }

  /**
   * The addresses to register: the registering request's own first, then the freshest of the others seen under
   * the sighting; at most one IPv4 and maxIpv6 IPv6.
   */
  function addressesSeen(first: string, s: Sighting | undefined): string[] {
    const fresh = (s?.seen ?? []).filter((x) => now() - x.at <= SIGHTING_FRESH_MS).sort((a, b) => b.at - a.at).map((x) => x.address);
    const out: string[] = [];
    for (const a of [first, ...fresh]) {
      if (out.includes(a)) continue;
      const same = out.filter((x) => familyOf(x) === familyOf(a)).length;
      if (same < (familyOf(a) === 4 ? 1 : maxIpv6)) out.push(a);
    }
    return out;
  }

  function sightingOf(session: Session, token: unknown): Sighting | undefined {
    if (token === undefined || token === null || token === '') return undefined;
    const s = typeof token === 'string' ? sightings.get(token) : undefined;
    if (!s || s.sessionId !== session.sessionId) throw new HttpError(400, 'bad_sighting', 'unknown sighting token; reload the page (or POST /api/v1/sightings)');
    return s;
  }

  function canTake(d: PortalDevice, address: string): boolean {
    const same = d.addresses.filter((x) => familyOf(x) === familyOf(address)).length;
    return same < (familyOf(address) === 4 ? 1 : maxIpv6);
  }

  /**
   * The same signed-in session seen from `address` (a lease renewal from there): the address goes to the
   * session's device on each NAS, through add-address, which never moves its expiry. The device is the one this
   * page registered, else the session's newest; only "this session" registrations, only ones the NAS acked.
   */
  function renewFrom(session: Session, sighting: Sighting | null, address: string): AddedAddress[] {
    const added: AddedAddress[] = [];
    for (const nas of state.nases.filter((n) => n.qnapId === session.qnapId)) {
      settle(nas);
      const active = nas.devices.filter((d) => d.state === 'active');
      if (active.some((d) => d.addresses.includes(address))) continue;
      const own = active.filter((d) => sighting?.refs.includes(d.ref));
      const pool = (own.length > 0 ? own : active).filter((d) => d.policy === 'session' && d.sessionId === session.sessionId);
      const device = pool[pool.length - 1];
      if (!device || device.deviceId === null || !canTake(device, address)) continue;
      const env = sendCommand(nas.nasId, 'add-address', { deviceId: device.deviceId, sessionId: session.sessionId, address, qnapId: session.qnapId });
      if (env) {
        device.addresses.push(address);
        save();
      }
      added.push({ nasId: nas.nasId, ref: device.ref, deviceId: device.deviceId, address, sent: env !== null });
    }
    return added;
  }

  function register(session: Session, nasId: string, input: { addresses: string[]; label: string; seconds: number | null; sighting?: Sighting }): { device: PortalDevice; sent: boolean } {
    const nas = nasById(nasId);
    if (!nas || nas.qnapId !== session.qnapId) throw new HttpError(404, 'not_found', `no NAS ${nasId} on this QNAP ID`);
    settle(nas);
    // A device registered again replaces what it had. The NAS renews in place the device whose first address
    // comes first here; any other device holding one of these addresses is revoked first, as the NAS allows an
    // address to one device at a time.
    let addresses = input.addresses;
    const overlapping = nas.devices.filter((d) => d.state === 'active' && d.addresses.some((a) => addresses.includes(a)));
    const inPlace = overlapping.find((d) => addresses.includes(d.address));
    if (inPlace) addresses = [inPlace.address, ...addresses.filter((a) => a !== inPlace.address)];
    for (const d of overlapping) {
      d.state = 'replaced';
      d.endedAt = now();
      if (d === inPlace) continue;
      const body: Record<string, unknown> = { ref: d.ref, reason: 'replaced by a new registration of the same device', qnapId: session.qnapId };
      if (d.deviceId !== null) body.deviceId = d.deviceId; else body.address = d.address;
      sendCommand(nasId, 'revoke', body);
    }
    const device: PortalDevice = {
      ref: `r${state.nextRef++}`, address: addresses[0], addresses, label: input.label, qnapId: session.qnapId,
      policy: input.seconds === null ? 'session' : 'fixed', seconds: input.seconds,
      sessionId: input.seconds === null ? session.sessionId : null, registeredAt: now(),
      expiresAt: input.seconds === null ? null : now() + input.seconds * 1000, state: 'active', deviceId: null, endedAt: null, note: null,
    };
    nas.devices.push(device);
    input.sighting?.refs.push(device.ref);
    save();
    const env = addresses.length > 1
      ? sendCommand(nasId, 'register-device', { ...registerBody(device), addresses })
      : sendCommand(nasId, 'register', { ...registerBody(device), address: device.address });
    return { device, sent: env !== null };
  }

  function registerBody(device: PortalDevice): Record<string, unknown> {
    return {
      ref: device.ref, label: device.label, qnapId: device.qnapId,
      expiry: device.policy === 'fixed'
        ? { policy: 'fixed', seconds: device.seconds as number }
        : { policy: 'session', sessionId: device.sessionId as string, leaseSeconds },
    };
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
    for (const [token, s] of sightings) if (s.sessionId === session.sessionId) sightings.delete(token);
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

  /** What to register: the overriding address (tests only), else every address the portal saw. */
  function addressesFor(req: http.IncomingMessage, given: unknown, sighting: Sighting | undefined): string[] {
    if (given !== undefined && given !== null && given !== '') {
      if (!opts.allowAddressOverride) throw new HttpError(400, 'bad_address', 'this portal registers the address it sees; it does not take one');
      if (typeof given !== 'string' || given.length > 64) throw new HttpError(400, 'bad_address', 'address must be text');
      return [given];
    }
    return addressesSeen(normaliseRemote(req.socket.remoteAddress), sighting);
  }

  function probeUrlsFor(req: http.IncomingMessage): { 4: string | null; 6: string | null } {
    const byHost = opts.probeUrls?.byHost?.[String(req.headers.host ?? '')];
    return byHost ?? { 4: opts.probeUrls?.[4] ?? probeListenUrl[4], 6: opts.probeUrls?.[6] ?? probeListenUrl[6] };
  }

  /** POST /api/v1/sightings/{token} on any listener: no cookie crosses to the single-family ones, the token does. */
  function handleSighting(req: http.IncomingMessage, res: http.ServerResponse, token: string, family: Family | null): void {
    req.resume();
    res.setHeader('access-control-allow-origin', '*');
    // Each sighting on a connection of its own: a kept-alive one would show where the device was, not where it is.
    res.setHeader('connection', 'close');
    const address = normaliseRemote(req.socket.remoteAddress);
    if (family !== null && familyOf(address) !== family) throw new HttpError(421, 'wrong_family', `this endpoint answers over IPv${family} only`);
    const s = sightings.get(token);
    const session = s ? state.sessions.find((x) => x.sessionId === s.sessionId) : undefined;
    if (!s || !session) throw new HttpError(404, 'not_found', 'unknown sighting token; reload the page');
    noteSighting(s, address);
    sendJson(res, 200, { address, family: familyOf(address), added: renewFrom(session, s, address) });
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
    if (followUps.delete(`${nas.nasId}:${seq}`)) {
      const device = nas.devices.find((d) => d.ref === what?.body.ref && d.state === 'active');
      const results = (ack.results ?? []) as Array<Record<string, unknown>>;
      if (device && ack.ok === true && results.every((r) => r.ok === true)) {
        device.deviceId = (results[0]?.deviceId as number | undefined) ?? device.deviceId;
      } else if (device) {
        device.addresses = [device.address];
        device.note = `the NAS kept ${device.address} alone: ${JSON.stringify(ack.error ?? results.find((r) => r.ok !== true))}`;
      }
      save();
      return settleAckWaiters(rec);
    }
    if (what?.type === 'register-device' && ack.ok === false && (ack.error as { code?: unknown } | undefined)?.code === 'unknown_type') {
      // A NAS older than PROTOCOL.md §6a: it takes the device by its first address alone.
      const device = nas.devices.find((d) => d.ref === what.body.ref && d.state === 'active');
      if (device) {
        device.addresses = [device.address];
        device.note = 'this NAS takes one address per device';
        save();
        sendCommand(nas.nasId, 'register', { ...registerBody(device), address: device.address });
      }
    }
    if (what?.type === 'add-address' && !(ack.ok === true && ((ack.results ?? []) as Array<{ ok?: unknown }>).every((r) => r.ok === true))) {
      const device = nas.devices.find((d) => d.deviceId === what.body.deviceId);
      if (device && device.address !== what.body.address) {
        device.addresses = device.addresses.filter((a) => a !== what.body.address);
        save();
      }
    }
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
    settleAckWaiters(rec);
  }

  function settleAckWaiters(rec: AckRecord): void {
    for (const w of ackWaiters.splice(0)) {
      if (w.nasId === rec.nasId && w.seq === rec.seq) w.resolve(rec); else ackWaiters.push(w);
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
    resendAddresses(nas);
  }

  /**
   * A resync names each device by its first address (PROTOCOL.md §7), so a device the NAS never acked (made
   * while it was away, or acked into a lost connection) may have only that one there now: its whole address set
   * follows as register-device, which the NAS applies as a renewal in place, with the time it has left.
   */
  function resendAddresses(nas: NasRecord): void {
    for (const d of nas.devices) {
      if (d.state !== 'active' || d.deviceId !== null || d.addresses.length < 2) continue;
      const body: Record<string, unknown> = { ...registerBody(d), addresses: d.addresses };
      if (d.policy === 'fixed') {
        const seconds = Math.ceil(((d.expiresAt as number) - now()) / 1000);
        if (seconds <= 0) continue;
        body.expiry = { policy: 'fixed', seconds };
      }
      const env = sendCommand(nas.nasId, 'register-device', body);
      if (env) followUps.add(`${nas.nasId}:${String(env.seq)}`);
    }
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
    if (method === 'POST' && parts[0] === 'sightings' && parts.length === 1) {
      const address = normaliseRemote(req.socket.remoteAddress);
      const s = newSighting(session, address);
      return sendJson(res, 201, { token: s.token, address, probes: probeUrlsFor(req) });
    }
    if (method === 'POST' && parts[0] === 'lease' && parts.length === 1) {
      const address = normaliseRemote(req.socket.remoteAddress);
      return sendJson(res, 200, { address, added: renewFrom(session, null, address) });
    }
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
        const sighting = sightingOf(session, body.sighting);
        const out = register(session, nas.nasId, { addresses: addressesFor(req, body.address, sighting), label, seconds, sighting });
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
    const ctx: PageContext = { ...emptyCtx(leaseSeconds, maxHours), session: session ?? null, address: normaliseRemote(req.socket.remoteAddress), allowAddressOverride: opts.allowAddressOverride === true };
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
      const sighting = sightingOf(session, form.get('sighting') || undefined);
      const out = register(session, nas.nasId, {
        addresses: addressesFor(req, form.get('address') || undefined, sighting), label: (form.get('label') ?? '').slice(0, 64),
        seconds: parseExpiry(expiry === 'session' ? 'session' : Number(expiry)), sighting,
      });
      return redirect(`/nas/${nas.nasId}?flash=${encodeURIComponent(`Registered ${out.device.addresses.join(' and ')}${out.sent ? '' : ' (the NAS is offline; it gets it when it reconnects)'}`)}`);
    }
    if (method === 'POST' && m[2]) {
      const out = revoke(session, nas.nasId, m[2], `revoked on the portal by ${session.qnapId}`);
      return redirect(`/nas/${nas.nasId}?flash=${encodeURIComponent(`Revoked ${out.device.address}`)}`);
    }
    ctx.nas = nas;
    ctx.flash = new URL(req.url ?? '/', 'http://x').searchParams.get('flash');
    ctx.probes = probeUrlsFor(req);
    ctx.sighting = newSighting(session, ctx.address).token;
    ctx.pageRenewSeconds = pageRenewSeconds;
    // CSP host sources cannot name an IPv6 literal (CSP3 host-char is ALPHA / DIGIT / "-"): its scheme stands in.
    const origins = [ctx.probes[4], ctx.probes[6]].filter((u): u is string => u !== null).map((u) => new URL(u))
      .map((u) => (u.hostname.startsWith('[') ? u.protocol : u.origin));
    return sendHtml(res, 200, renderPage('nas', ctx), { scripts: true, connect: origins });
  }

  const fail = (res: http.ServerResponse, path: string, e: unknown): void => {
    const err = e instanceof HttpError ? e : new HttpError(500, 'internal', (e as Error).message);
    if (err.status === 500) log(`dev portal: ${String((e as Error).stack)}`);
    if (res.headersSent) { res.end(); return; }
    if (path.startsWith('/api/')) sendJson(res, err.status, { error: { code: err.code, message: err.message } });
    else sendHtml(res, err.status, renderPage('error', { ...emptyCtx(leaseSeconds, maxHours), error: err.message }));
  };
  const SIGHTING_PATH = /^\/api\/v1\/sightings\/([A-Za-z0-9_-]{1,64})$/;

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://dev-portal');
    const path = url.pathname;
    const run = async (): Promise<void> => {
      const sighted = SIGHTING_PATH.exec(path);
      if (sighted && req.method === 'POST') return handleSighting(req, res, sighted[1], null);
      if (path === '/device.js' && req.method === 'GET') return sendScript(res);
      const nasRoute = /^\/api\/nas\/v1\/([a-z]+)$/.exec(path);
      if (nasRoute && req.method === 'POST') return handleNas(req, res, nasRoute[1]);
      if (path.startsWith('/api/v1/')) return handleApi(req, res, path.slice('/api/v1/'.length).split('/').filter(Boolean));
      if (path === '/api/v1') throw new HttpError(404, 'not_found', 'see scripts/dev-portal/API.md');
      return handlePage(req, res, path);
    };
    run().catch((e: unknown) => fail(res, path, e));
  });

  /** A listener of one family that serves the sighting route alone (an "ipv4." or "ipv6." test-site host). */
  function probeServer(family: Family): http.Server {
    return http.createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://dev-portal').pathname;
      const run = async (): Promise<void> => {
        const sighted = SIGHTING_PATH.exec(path);
        if (sighted && req.method === 'POST') return handleSighting(req, res, sighted[1], family);
        throw new HttpError(404, 'not_found', `the IPv${family}-only endpoint answers POST /api/v1/sightings/{token} alone`);
      };
      run().catch((e: unknown) => fail(res, '/api/', e));
    });
  }

  const renewTimer = setInterval(() => {
    const live = new Set(state.sessions.map((s) => s.sessionId));
    for (const nas of state.nases) {
      if (!streams.has(nas.nasId)) continue;
      const sessions = new Set(nas.devices.filter((d) => d.state === 'active' && d.sessionId && live.has(d.sessionId)).map((d) => d.sessionId as string));
      for (const sessionId of sessions) sendCommand(nas.nasId, 'lease-renew', { sessionId, leaseSeconds });
    }
  }, renewMs);
  renewTimer.unref();

  const listen = (srv: http.Server, options: { port: number; host: string; ipv6Only?: boolean }): Promise<string> => new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(options, () => {
      srv.off('error', reject);
      const hostText = options.host.includes(':') ? `[${options.host}]` : options.host;
      resolve(`http://${hostText}:${(srv.address() as AddressInfo).port}`);
    });
  });
  const probeServers: http.Server[] = [];
  /** The single-family listeners as this machine reaches them (an unspecified host through loopback). */
  const probeListenUrl: { 4: string | null; 6: string | null } = { 4: null, 6: null };
  const url = await listen(server, { port: opts.port, host: opts.host });
  const port = (server.address() as AddressInfo).port;
  for (const [family, listener] of [[4, opts.ipv4Only], [6, opts.ipv6Only]] as const) {
    if (!listener) continue;
    const host = listener.host ?? (family === 4 ? '0.0.0.0' : '::');
    const srv = probeServer(family);
    probeServers.push(srv);
    const at = await listen(srv, { port: listener.port, host, ipv6Only: family === 6 });
    const loopback = family === 4 ? '127.0.0.1' : '[::1]';
    probeListenUrl[family] = host === '0.0.0.0' || host === '::' ? `http://${loopback}:${(srv.address() as AddressInfo).port}` : at;
    log(`dev portal: IPv${family}-only endpoint on ${at}`);
  }
  log(`dev portal: listening on ${url}; portal key ${state.key.publicKey}`);

  return {
    url, port, publicKey: state.key.publicKey, state, acks, reports,
    ipv4OnlyUrl: probeListenUrl[4],
    ipv6OnlyUrl: probeListenUrl[6],
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
      await Promise.all([server, ...probeServers].map((srv) => new Promise<void>((resolve) => { srv.close(() => resolve()); srv.closeAllConnections(); })));
    },
  };
}

function emptyCtx(leaseSeconds: number, maxHours: number): PageContext {
  return { session: null, address: '', maxHours, allowAddressOverride: false, nases: [], flash: null, error: null, code: null, nas: null, leaseSeconds, probes: { 4: null, 6: null }, sighting: null, pageRenewSeconds: 60 };
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

function sendHtml(res: http.ServerResponse, status: number, html: string, page: { scripts?: boolean; connect?: string[] } = {}): void {
  const scripts = page.scripts ? `; script-src 'self'; connect-src ${page.connect?.length ? page.connect.join(' ') : "'none'"}` : '';
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'${scripts}`,
  });
  res.end(html);
}

function sendScript(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
  res.end(DEVICE_SCRIPT);
}
