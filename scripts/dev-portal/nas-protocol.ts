// The NAS side of the dev portal (module/cloud/PROTOCOL.md): binding, challenges, one event stream per NAS with
// its hello, heartbeats and the signed commands sent on it, and the acks and reports the NAS sends back.
import type http from 'node:http';
import { randomToken, signMessage, verifyMessage } from '../../module/cloud/keys';
import { check } from '../../module/cloud/schemas';
import { HttpError, readJson, sendJson } from './http';
import type { Settings } from './options';
import type { LiveState, NasRecord, PortalDevice } from './state';

export interface AckRecord { nasId: string; seq: number; ok: boolean; type: string | null; ack: Record<string, unknown> }

const CHALLENGE_TTL_MS = 60_000;

interface Stream { res: http.ServerResponse; nonce: string; timer: NodeJS.Timeout }

/** A device as the body of a register or register-device command (PROTOCOL.md §6, §6a), less its addresses. */
export function registerBody(device: PortalDevice, leaseSeconds: number): Record<string, unknown> {
  return {
    ref: device.ref, label: device.label, qnapId: device.qnapId,
    expiry: device.policy === 'fixed'
      ? { policy: 'fixed', seconds: device.seconds as number }
      : { policy: 'session', sessionId: device.sessionId as string, leaseSeconds },
  };
}

export class NasProtocol {
  readonly acks: AckRecord[] = [];
  readonly reports: Array<{ nasId: string; report: Record<string, unknown> }> = [];
  private readonly streams = new Map<string, Stream>();
  private readonly challenges = new Map<string, { nasId: string; expiresAt: number }>();
  private readonly sent = new Map<string, { type: string; body: Record<string, unknown> }>();
  private readonly ackWaiters: Array<{ nasId: string; seq: number; resolve: (a: AckRecord) => void }> = [];
  /** register-device commands that complete a resync: their failure leaves the device its first address. */
  private readonly followUps = new Set<string>();

  constructor(private readonly settings: Settings, private readonly live: LiveState) {}

  connected(nasId: string): boolean {
    return this.streams.has(nasId);
  }

  /** Signs and sends a command to a connected NAS now; returns the envelope, or null if not connected. */
  sendCommand(nasId: string, type: string, body: Record<string, unknown>, over: Record<string, unknown> = {}): Record<string, unknown> | null {
    const { now, envelopeMs, log } = this.settings;
    const nas = this.live.nasById(nasId);
    const stream = this.streams.get(nasId);
    if (!nas || !stream) return null;
    nas.seq += 1;
    this.live.save();
    const issuedAt = now();
    const env = signMessage('portal', {
      v: 1, nasId, seq: nas.seq, issuedAt, expiresAt: issuedAt + envelopeMs, nonce: randomToken(16), type, body, ...over,
    }, this.live.state.key.privateKey);
    this.sent.set(`${nasId}:${nas.seq}`, { type, body });
    stream.res.write(`event: command\ndata: ${JSON.stringify(env)}\n\n`);
    log(`dev portal: → ${nasId} seq ${nas.seq} ${type}`);
    return env;
  }

  /** Writes raw `data` as a command event on the NAS's stream (tests of refusals). */
  sendRaw(nasId: string, data: string): boolean {
    const s = this.streams.get(nasId);
    if (!s) return false;
    s.res.write(`event: command\ndata: ${data}\n\n`);
    return true;
  }

  /** Resolves once a NAS acked seq (or rejects after timeoutMs). */
  waitForAck(nasId: string, seq: number, timeoutMs = 5000): Promise<AckRecord> {
    const have = this.acks.find((a) => a.nasId === nasId && a.seq === seq);
    if (have) return Promise.resolve(have);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ack of seq ${seq} from ${nasId} within ${timeoutMs} ms`)), timeoutMs);
      this.ackWaiters.push({ nasId, seq, resolve: (a) => { clearTimeout(t); resolve(a); } });
    });
  }

  /** A lease-renew to each connected NAS for each signed-in session with active devices on it. */
  renewLeases(): void {
    const { state } = this.live;
    const signedIn = new Set(state.sessions.map((s) => s.sessionId));
    for (const nas of state.nases) {
      if (!this.streams.has(nas.nasId)) continue;
      const sessions = new Set(nas.devices.filter((d) => d.state === 'active' && d.sessionId && signedIn.has(d.sessionId)).map((d) => d.sessionId as string));
      for (const sessionId of sessions) this.sendCommand(nas.nasId, 'lease-renew', { sessionId, leaseSeconds: this.settings.leaseSeconds });
    }
  }

  /** Ends every stream (the portal stops). */
  closeStreams(): void {
    for (const s of this.streams.values()) { clearInterval(s.timer); s.res.destroy(); }
    this.streams.clear();
  }

  /** POST /api/nas/v1/{route}. */
  async handle(req: http.IncomingMessage, res: http.ServerResponse, route: string): Promise<void> {
    const { now, log } = this.settings;
    const { state } = this.live;
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
      this.live.save();
      log(`dev portal: bound ${nas.nasId} (${nas.name}) to ${nas.qnapId}`);
      return sendJson(res, 200, signMessage('portal', {
        v: 1, type: 'bound', nasId: nas.nasId, qnapId: nas.qnapId, nasPublicKey: nas.publicKey, portalPublicKey: state.key.publicKey, now: now(),
      }, state.key.privateKey));
    }
    if (route === 'challenge') {
      const m = (body ?? {}) as Record<string, unknown>;
      if (m.v !== 1 || typeof m.nasId !== 'string') throw new HttpError(400, 'malformed', 'expected { v: 1, nasId }');
      if (!this.live.nasById(m.nasId)) throw new HttpError(403, 'unknown_nas', `NAS ${m.nasId} is not bound to this portal`);
      for (const [k, c] of this.challenges) if (c.expiresAt < now()) this.challenges.delete(k);
      const challenge = randomToken(32);
      this.challenges.set(challenge, { nasId: m.nasId, expiresAt: now() + CHALLENGE_TTL_MS });
      return sendJson(res, 200, signMessage('portal', { v: 1, type: 'challenge', nasId: m.nasId, challenge, now: now() }, state.key.privateKey));
    }
    if (route === 'stream') {
      const nas = this.nasRequest(body, 'open');
      return this.openStreamFor(nas, (body as { body: Record<string, unknown> }).body, res);
    }
    if (route === 'messages') {
      const nas = this.nasRequest(body, 'messages');
      const inner = (body as { body: Record<string, unknown> }).body;
      const bad = check('messages', 'messages', inner, 'body');
      if (bad) throw new HttpError(400, 'malformed', bad);
      for (const a of inner.acks as Array<Record<string, unknown>>) this.onAck(nas, a);
      for (const r of inner.reports as Array<Record<string, unknown>>) this.onReport(nas, r);
      this.live.save();
      return sendJson(res, 200, { ok: true });
    }
    if (route === 'unbind') {
      const nas = this.nasRequest(body, 'unbind');
      state.nases = state.nases.filter((n) => n !== nas);
      this.streams.get(nas.nasId)?.res.end();
      this.live.save();
      log(`dev portal: NAS ${nas.nasId} unbound itself`);
      return sendJson(res, 200, { ok: true });
    }
    throw new HttpError(404, 'not_found', 'no such NAS route');
  }

  private nasRequest(body: unknown, type: string): NasRecord {
    const { now } = this.settings;
    const bad = check('messages', 'request', body, 'request');
    if (bad) throw new HttpError(400, 'malformed', bad);
    const m = body as Record<string, unknown>;
    if (m.type !== type) throw new HttpError(400, 'malformed', `expected a ${type} request`);
    const nas = this.live.nasById(m.nasId as string);
    if (!nas) throw new HttpError(403, 'unknown_nas', `NAS ${String(m.nasId)} is not bound to this portal`);
    const ch = this.challenges.get(m.challenge as string);
    this.challenges.delete(m.challenge as string);
    if (!ch || ch.nasId !== nas.nasId || ch.expiresAt < now()) throw new HttpError(401, 'bad_challenge', 'challenge unknown, used or expired');
    if (!verifyMessage('nas', m, nas.publicKey)) throw new HttpError(401, 'bad_signature', 'signature does not verify with the NAS key');
    nas.lastContactAt = now();
    return nas;
  }

  private onAck(nas: NasRecord, ack: Record<string, unknown>): void {
    const { now, log, leaseSeconds } = this.settings;
    const seq = ack.seq as number;
    const what = this.sent.get(`${nas.nasId}:${seq}`);
    const rec: AckRecord = { nasId: nas.nasId, seq, ok: ack.ok as boolean, type: what?.type ?? null, ack };
    this.acks.push(rec);
    if (this.followUps.delete(`${nas.nasId}:${seq}`)) {
      const device = nas.devices.find((d) => d.ref === what?.body.ref && d.state === 'active');
      const results = (ack.results ?? []) as Array<Record<string, unknown>>;
      if (device && ack.ok === true && results.every((r) => r.ok === true)) {
        device.deviceId = (results[0]?.deviceId as number | undefined) ?? device.deviceId;
      } else if (device) {
        device.addresses = [device.address];
        device.note = `the NAS kept ${device.address} alone: ${JSON.stringify(ack.error ?? results.find((r) => r.ok !== true))}`;
      }
      this.live.save();
      return this.settleAckWaiters(rec);
    }
    if (what?.type === 'register-device' && ack.ok === false && (ack.error as { code?: unknown } | undefined)?.code === 'unknown_type') {
      // A NAS older than PROTOCOL.md §6a: it takes the device by its first address alone.
      const device = nas.devices.find((d) => d.ref === what.body.ref && d.state === 'active');
      if (device) {
        device.addresses = [device.address];
        device.note = 'this NAS takes one address per device';
        this.live.save();
        this.sendCommand(nas.nasId, 'register', { ...registerBody(device, leaseSeconds), address: device.address });
      }
    }
    if (what?.type === 'add-address' && !(ack.ok === true && ((ack.results ?? []) as Array<{ ok?: unknown }>).every((r) => r.ok === true))) {
      const device = nas.devices.find((d) => d.deviceId === what.body.deviceId);
      if (device && device.address !== what.body.address) {
        device.addresses = device.addresses.filter((a) => a !== what.body.address);
        this.live.save();
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
    this.settleAckWaiters(rec);
  }

  private settleAckWaiters(rec: AckRecord): void {
    for (const w of this.ackWaiters.splice(0)) {
      if (w.nasId === rec.nasId && w.seq === rec.seq) w.resolve(rec); else this.ackWaiters.push(w);
    }
  }

  private onReport(nas: NasRecord, report: Record<string, unknown>): void {
    this.reports.push({ nasId: nas.nasId, report });
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
    device.endedAt = this.settings.now();
    device.note = `on the NAS${report.by ? ` by ${String(report.by)}` : ''}${report.reason ? `: ${String(report.reason)}` : ''}`;
  }

  private openStreamFor(nas: NasRecord, body: Record<string, unknown>, res: http.ServerResponse): void {
    const { now, log } = this.settings;
    const bad = check('messages', 'open', body, 'body');
    if (bad) throw new HttpError(400, 'malformed', bad);
    this.streams.get(nas.nasId)?.res.end();
    const heartbeatMs = Math.min(300_000, Math.max(500, body.heartbeatMs as number));
    const nonce = body.streamNonce as string;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.flushHeaders();
    const write = (event: string, msg: Record<string, unknown>): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(signMessage('portal', msg, this.live.state.key.privateKey))}\n\n`);
    };
    write('hello', { v: 1, type: 'hello', nasId: nas.nasId, stream: nonce, now: now(), lastSeq: nas.seq, heartbeatMs });
    const timer = setInterval(() => write('heartbeat', { v: 1, type: 'heartbeat', nasId: nas.nasId, stream: nonce, now: now() }), heartbeatMs);
    const stream: Stream = { res, nonce, timer };
    this.streams.set(nas.nasId, stream);
    res.on('close', () => {
      clearInterval(timer);
      if (this.streams.get(nas.nasId) === stream) this.streams.delete(nas.nasId);
      log(`dev portal: NAS ${nas.nasId} disconnected`);
    });
    log(`dev portal: NAS ${nas.nasId} connected (after seq ${String(body.after)})`);
    this.sendCommand(nas.nasId, 'resync', this.resyncBody(nas));
    this.resendAddresses(nas);
  }

  private resyncBody(nas: NasRecord): Record<string, unknown> {
    this.live.settle(nas);
    return {
      devices: nas.devices.filter((d) => d.state === 'active').map((d) => ({
        ref: d.ref, deviceId: d.deviceId, address: d.address, label: d.label, qnapId: d.qnapId,
        expiry: d.policy === 'fixed'
          ? { policy: 'fixed', expiresAt: d.expiresAt as number }
          : { policy: 'session', sessionId: d.sessionId as string, leaseSeconds: this.settings.leaseSeconds },
      })),
    };
  }

  /**
   * A resync names each device by its first address (PROTOCOL.md §7), so a device the NAS never acked (made
   * while it was away, or acked into a lost connection) may have only that one there now: its whole address set
   * follows as register-device, which the NAS applies as a renewal in place, with the time it has left.
   */
  private resendAddresses(nas: NasRecord): void {
    for (const d of nas.devices) {
      if (d.state !== 'active' || d.deviceId !== null || d.addresses.length < 2) continue;
      const body: Record<string, unknown> = { ...registerBody(d, this.settings.leaseSeconds), addresses: d.addresses };
      if (d.policy === 'fixed') {
        const seconds = Math.ceil(((d.expiresAt as number) - this.settings.now()) / 1000);
        if (seconds <= 0) continue;
        body.expiry = { policy: 'fixed', seconds };
      }
      const env = this.sendCommand(nas.nasId, 'register-device', body);
      if (env) this.followUps.add(`${nas.nasId}:${String(env.seq)}`);
    }
  }
}
