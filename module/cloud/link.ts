// The portal link: binds the NAS, keeps one outgoing event stream to the portal open (reconnecting with
// backoff and jitter), hands commands to the receiver, and sends acks and reports back. PROTOCOL.md.
import os from 'node:os';
import { SYSTEM } from '../domain';
import { EventSummary, type Actor, type Device, type EngineApi, type SystemLog } from '../engine';
import type { PortalConfig } from '../config';
import type { Store } from '../store';
import { BINDING_SETTING, checkPortalUrl, loadBinding, type Binding } from './binding';
import { CommandReceiver, type Ack, type Log, type ReceiverDeps } from './commands';
import { MAX_ENVELOPE_BYTES } from './envelope';
import { generateKeyPair, randomToken, signMessage, verifyMessage } from './keys';
import { check } from './schemas';
import type { SseEvent } from './sse';
import { readStream, type StreamControl } from './stream';
import { openStream, PortalLinkError, postJson, type Pending } from './transport';

export { PortalLinkError };

export interface PortalLinkDeps {
  engine: EngineApi;
  /** What the link needs of the store: the binding (a setting), the sequence, and what its commands need. */
  store: Pick<Store, 'getSetting' | 'setSetting' | 'getPortalSequence'> & ReceiverDeps['store'];
  config: PortalConfig;
  log?: Log;
  /** Wall clock (ms); the engine's clock. */
  now?: () => number;
  /** Monotonic clock (ms); portal time is kept as an offset from it. */
  monoNow?: () => number;
  /** For the reconnect jitter; [0, 1). */
  random?: () => number;
  /** The NAS's event log: refused commands, summarised. */
  systemLog?: SystemLog;
}

export interface PortalStatus {
  /** A portal URL is configured or a binding exists. */
  configured: boolean;
  bound: boolean;
  connected: boolean;
  lastContactAt: number | null;
  portalUrl: string | null;
  nasId: string | null;
  qnapId: string | null;
  boundAt: number | null;
  /** Why the last connection attempt failed (or the stream ended); null while connected. */
  lastError: string | null;
  /** A sentence for `sipa status`. */
  summary: string;
}

export interface Report {
  event: 'revoked' | 'expired';
  deviceId: number;
  address: string;
  sessionId: string | null;
  at: number;
  by: string | null;
  reason: string | null;
}

export const OUTBOX_LIMIT = 1000;
const SOFTWARE = 'sipa-nas/1';
const NULL_LOG: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** One open stream: what its time messages are checked against, and whether its hello came. */
interface StreamState {
  binding: Binding;
  /** The receiver of the binding the stream was opened for. */
  receiver: CommandReceiver;
  nonce: string;
  /** The last sequence number accepted when the stream was opened. */
  after: number;
  helloSeen: boolean;
}

export class PortalLink {
  private readonly log: Log;
  private readonly now: () => number;
  private readonly monoNow: () => number;
  private readonly random: () => number;
  private binding: Binding | null = null;
  private receiver: CommandReceiver | null = null;
  private started = false;
  private loopDone: Promise<void> | null = null;
  private readonly pending = new Set<Pending>();
  private wake: (() => void) | null = null;
  private connected = false;
  private lastContactAt: number | null = null;
  private lastError: string | null = null;
  private failures = 0;
  private readonly outbox: { acks: Ack[]; reports: Report[] } = { acks: [], reports: [] };
  private flushing = false;
  private commands: Promise<void> = Promise.resolve();
  /** Binding changes one at a time: a bind issued while an unbind is in flight waits for it. */
  private bindingChange: Promise<unknown> = Promise.resolve();
  private unsubscribe: Array<() => void> = [];
  private readonly refusedCommands: EventSummary;

  constructor(private readonly deps: PortalLinkDeps) {
    this.log = deps.log ?? NULL_LOG;
    this.now = deps.now ?? Date.now;
    this.monoNow = deps.monoNow ?? (() => performance.now());
    this.random = deps.random ?? Math.random;
    this.refusedCommands = new EventSummary(deps.systemLog ?? (() => undefined), {
      level: 'warn',
      first: (code, detail) => `refused a portal command: ${code} (${detail ?? ''}); more are summarised every 5 minutes`,
      more: (n, byKind, minutes) => `refused ${n} more portal commands in the last ${minutes} minutes: ${byKind}`,
    });
  }

  private get timeoutMs(): number {
    return this.deps.config.requestTimeoutSeconds * 1000;
  }

  /** Loads the binding and, if there is one, starts connecting. Without one the NAS runs standalone. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.setBinding(await loadBinding(this.deps.store));
    const { engine } = this.deps;
    this.unsubscribe = [
      engine.on('revoked', ({ device }) => this.report('revoked', device)),
      engine.on('expired', ({ device }) => this.report('expired', device)),
    ];
    if (this.binding) {
      this.log.info(`portal: bound to ${this.binding.portalUrl} as NAS ${this.binding.nasId}; connecting`);
      this.startLoop();
    } else {
      this.log.info('portal: not bound; running standalone (local registrations only)');
    }
  }

  /** Closes the stream, stops reconnecting and waits for the command being applied, if any. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    await this.stopLoop();
    await this.commands;
    this.refusedCommands.flush();
    this.refusedCommands.stop();
  }

  status(): PortalStatus {
    const b = this.binding;
    const url = b?.portalUrl ?? (typeof this.deps.config.url === 'string' ? this.deps.config.url : null);
    const summary = !b
      ? url ? `not bound (portal ${url}); run sipa bind --code CODE` : 'standalone: no portal configured'
      : this.connected ? `connected to ${b.portalUrl} as NAS ${b.nasId} (QNAP ID ${b.qnapId})`
        : `bound to ${b.portalUrl}, not connected${this.lastError ? `: ${this.lastError}` : ''}`;
    return {
      configured: url !== null, bound: b !== null, connected: this.connected, lastContactAt: this.lastContactAt,
      portalUrl: url, nasId: b?.nasId ?? null, qnapId: b?.qnapId ?? null, boundAt: b?.boundAt ?? null,
      lastError: this.connected ? null : this.lastError, summary,
    };
  }

  /**
   * Binds this NAS to the portal with a pairing code the portal showed its owner (`sipa bind`). Makes the
   * NAS key, pins the portal's key, stores the binding and starts connecting (if started).
   */
  bind(opts: { portalUrl?: string | null; code: string; nasName?: string }, by: Actor = SYSTEM): Promise<PortalStatus> {
    return this.oneBindingChange(() => this.bindNow(opts, by));
  }

  private oneBindingChange<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.bindingChange.then(fn, fn);
    this.bindingChange = run.catch(() => undefined);
    return run;
  }

  private async bindNow(opts: { portalUrl?: string | null; code: string; nasName?: string }, by: Actor): Promise<PortalStatus> {
    if (this.binding) {
      throw new PortalLinkError('already_bound', `bind: this NAS is already bound to ${this.binding.portalUrl} (NAS ${this.binding.nasId}, QNAP ID ${this.binding.qnapId}); run sipa unbind first`);
    }
    const urlText = opts.portalUrl ?? (typeof this.deps.config.url === 'string' ? this.deps.config.url : null);
    if (!urlText) throw new PortalLinkError('no_portal_url', 'bind: no portal URL; give --portal URL or set portal.url in the config');
    const checked = checkPortalUrl(urlText, this.deps.config.insecureHttp === true);
    if ('error' in checked) throw new PortalLinkError('bad_portal_url', `bind: ${checked.error}`);
    const code = String(opts.code ?? '').toUpperCase().replace(/[\s-]/g, '');
    if (!/^[A-Z0-9]{8}$/.test(code)) {
      throw new PortalLinkError('bad_code', `bind: pairing code ${JSON.stringify(opts.code)} should be the 8 letters and digits the portal shows`);
    }
    const nasName = (opts.nasName ?? (typeof this.deps.config.nasName === 'string' ? this.deps.config.nasName : os.hostname())).slice(0, 64) || 'NAS';
    const keys = generateKeyPair();
    const request = signMessage('nas', { v: 1, type: 'bind', code, nasPublicKey: keys.publicKey, nasName }, keys.privateKey);
    const reply = await postJson(`${checked.url}/api/nas/v1/bind`, request, this.timeoutMs, 'bind') as Record<string, unknown>;
    const bad = check('messages', 'bound', reply, 'bind reply');
    if (bad) throw new PortalLinkError('bad_portal_reply', `bind: ${bad}`);
    if (reply.nasPublicKey !== keys.publicKey || !verifyMessage('portal', reply, reply.portalPublicKey as string)) {
      throw new PortalLinkError('bad_portal_reply', 'bind: the portal\'s answer is not signed by its key or names another NAS key; nothing was stored');
    }
    const binding: Binding = {
      v: 1, portalUrl: checked.url, nasId: reply.nasId as string, qnapId: reply.qnapId as string, nasName,
      nasPublicKey: keys.publicKey, nasPrivateKey: keys.privateKey, portalPublicKey: reply.portalPublicKey as string, boundAt: this.now(),
    };
    await this.deps.store.setSetting(BINDING_SETTING, binding as unknown as Record<string, string | number>, {
      actor: by, action: 'bind',
      detail: `bound to ${binding.portalUrl} as NAS ${binding.nasId} for QNAP ID ${binding.qnapId}; portal key ${binding.portalPublicKey}`,
    });
    this.setBinding(binding);
    this.lastError = null;
    this.failures = 0;
    this.log.info(`portal: bound to ${binding.portalUrl} as NAS ${binding.nasId} (QNAP ID ${binding.qnapId})`);
    if (this.started) this.startLoop();
    return this.status();
  }

  /**
   * Ends the binding (`sipa unbind`): tells the portal (best effort), stops the link, revokes the active
   * portal-sourced devices (the portal could no longer end them) and deletes the binding and its key.
   */
  unbind(by: Actor = SYSTEM): Promise<{ status: PortalStatus; portalNotified: boolean; revoked: number }> {
    return this.oneBindingChange(() => this.unbindNow(by));
  }

  private async unbindNow(by: Actor): Promise<{ status: PortalStatus; portalNotified: boolean; revoked: number }> {
    const b = this.binding;
    if (!b) throw new PortalLinkError('not_bound', 'unbind: this NAS is not bound to a portal');
    let portalNotified = false;
    try {
      const challenge = await this.challenge(b);
      await postJson(`${b.portalUrl}/api/nas/v1/unbind`,
        signMessage('nas', { v: 1, nasId: b.nasId, challenge, type: 'unbind', body: { reason: `unbound by ${by.name}` } }, b.nasPrivateKey),
        this.timeoutMs, 'unbind', this.trackOne());
      portalNotified = true;
    } catch (e) {
      this.log.warn(`portal: could not tell the portal about the unbinding (${(e as Error).message}); unbinding here anyway`);
    }
    this.setBinding(null);
    await this.stopLoop();
    await this.commands;
    let revoked = 0;
    for (const d of await this.deps.engine.list()) {
      if (d.source !== 'portal') continue;
      try {
        await this.deps.engine.revoke(d.id, by, 'NAS unbound from the portal');
        revoked++;
      } catch (e) {
        this.log.warn(`portal: unbind: could not revoke device ${d.id}: ${(e as Error).message}`);
      }
    }
    // Only the binding being removed is cleared: one stored since (by anything) is not this unbind's to lose.
    const stored = await loadBinding(this.deps.store).catch(() => null);
    if (stored === null || stored.nasId === b.nasId) {
      await this.deps.store.setSetting(BINDING_SETTING, null, {
        actor: by, action: 'unbind',
        detail: `unbound from ${b.portalUrl} (NAS ${b.nasId}); portal ${portalNotified ? 'told' : 'not reachable'}; ${revoked} portal device(s) revoked`,
      });
    }
    this.outbox.acks = [];
    this.outbox.reports = [];
    this.lastContactAt = null;
    this.lastError = null;
    return { status: this.status(), portalNotified, revoked };
  }

  // ---------------------------------------------------------------------------------------------------
  // Connection loop

  private setBinding(b: Binding | null): void {
    this.binding = b;
    this.receiver = b ? new CommandReceiver({
      engine: this.deps.engine, store: this.deps.store, config: this.deps.config, binding: b, log: this.log, now: this.now, monoNow: this.monoNow,
      onRefused: r => this.refusedCommands.add(r.code, `${r.type ?? 'unknown type'}, seq ${r.seq ?? '?'}: ${r.message.slice(0, 200)}`),
    }) : null;
  }

  private startLoop(): void {
    if (this.loopDone || !this.binding) return;
    const b = this.binding;
    this.loopDone = this.loop(b).finally(() => { this.loopDone = null; });
  }

  private async stopLoop(): Promise<void> {
    for (const p of this.pending) p.abort();
    this.pending.clear();
    this.wake?.();
    await this.loopDone;
    this.connected = false;
  }

  private running(b: Binding): boolean {
    return this.started && this.binding === b;
  }

  private async loop(b: Binding): Promise<void> {
    while (this.running(b)) {
      try {
        await this.session(b);
        if (this.running(b)) this.lastError = 'the portal closed the stream';
      } catch (e) {
        const err = e as PortalLinkError;
        if (!this.running(b)) break;
        this.lastError = err.message;
        if (err.code === 'unknown_nas') this.failures = 30;
        this.log.warn(`portal: ${err.message}`);
      }
      if (this.connected) this.log.info('portal: disconnected');
      this.connected = false;
      if (!this.running(b)) break;
      const delay = this.reconnectDelay();
      this.failures++;
      this.log.debug(`portal: reconnecting in ${Math.round(delay)} ms`);
      await this.pause(delay);
    }
  }

  /** min(max, min × 2^failures) with jitter: × [0.5, 1) (PROTOCOL.md §4, "Reconnect"). */
  private reconnectDelay(): number {
    const cap = this.deps.config.reconnectMaxSeconds * 1000;
    return Math.min(cap, this.deps.config.reconnectMinSeconds * 1000 * 2 ** Math.min(this.failures, 30)) * (0.5 + this.random() / 2);
  }

  /** Waits `ms`, or less if stopLoop() wakes it. */
  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => { clearTimeout(t); resolve(); };
    });
    this.wake = null;
  }

  private async challenge(b: Binding): Promise<string> {
    const m = await postJson(`${b.portalUrl}/api/nas/v1/challenge`, { v: 1, nasId: b.nasId }, this.timeoutMs, 'asking for a challenge', this.trackOne()) as Record<string, unknown>;
    const bad = check('messages', 'challenge', m, 'challenge');
    if (bad) throw new PortalLinkError('bad_portal_reply', bad);
    if (m.nasId !== b.nasId || !verifyMessage('portal', m, b.portalPublicKey)) {
      throw new PortalLinkError('bad_portal_reply', 'the challenge is not signed by the pinned portal key or names another NAS');
    }
    return m.challenge as string;
  }

  /** A tracker for one request: registers it while in flight so stop() can abort it. */
  private trackOne(): (p: Pending | null) => void {
    let mine: Pending | null = null;
    return (p) => {
      if (p) { mine = p; this.pending.add(p); } else if (mine) { this.pending.delete(mine); mine = null; }
    };
  }

  /** One stream: challenge, open, read events until it ends or goes quiet. */
  private async session(b: Binding): Promise<void> {
    const receiver = this.receiver as CommandReceiver;
    const challenge = await this.challenge(b);
    if (!this.running(b)) return;
    const streamNonce = randomToken(16);
    const after = (await this.deps.store.getPortalSequence(b.nasId)) ?? 0;
    const stream: StreamState = { binding: b, receiver, nonce: streamNonce, after, helloSeen: false };
    const heartbeatSeconds = this.deps.config.heartbeatSeconds;
    const open = signMessage('nas', {
      v: 1, nasId: b.nasId, challenge, type: 'open', body: { after, streamNonce, heartbeatMs: Math.round(heartbeatSeconds * 1000), software: SOFTWARE },
    }, b.nasPrivateKey);
    const track = this.trackOne();
    try {
      const res = await openStream(`${b.portalUrl}/api/nas/v1/stream`, open, this.timeoutMs, track);
      await readStream(res, MAX_ENVELOPE_BYTES, Math.max(3 * heartbeatSeconds * 1000, this.timeoutMs), {
        onEvent: (ev, control) => this.onStreamEvent(stream, ev, control),
        onOversize: (bytes, event, control) => this.onOversizeEvent(bytes, event, control),
      });
    } finally {
      track(null);
    }
  }

  /** One event of the stream (PROTOCOL.md §4): a time message, a command, or something ignored. */
  private onStreamEvent(stream: StreamState, ev: SseEvent, control: StreamControl): void {
    if (ev.event === 'hello' || ev.event === 'heartbeat') {
      this.onTimeMessage(stream, ev, control);
    } else if (ev.event === 'command') {
      if (!stream.helloSeen) {
        void stream.receiver.refuse({ code: 'malformed', message: 'command before hello', seq: null, type: 'command' });
        return;
      }
      this.lastContactAt = this.now();
      this.enqueueCommand(ev.data);
    } else {
      this.log.debug(`portal: ignored stream event "${ev.event}"`);
    }
  }

  /** A hello or heartbeat sets the portal's time; one that fails its checks drops the stream. */
  private onTimeMessage(stream: StreamState, ev: SseEvent, control: StreamControl): void {
    const m = this.timeMessage(stream.binding, ev, stream.nonce);
    if (typeof m === 'string') {
      void stream.receiver.refuse({ code: 'bad_signature', message: m, seq: null, type: ev.event });
      control.fail(new PortalLinkError('bad_portal_reply', `refused the portal's ${ev.event}: ${m}`));
      return;
    }
    stream.receiver.setPortalTime(m.now as number);
    this.lastContactAt = this.now();
    if (ev.event === 'hello') this.onHello(stream, m, control);
  }

  /** The stream is up: commands are taken from now on, the backoff starts again, and what waited is sent. */
  private onHello(stream: StreamState, hello: Record<string, unknown>, control: StreamControl): void {
    stream.helloSeen = true;
    control.quietAfter(3 * (hello.heartbeatMs as number));
    this.connected = true;
    this.failures = 0;
    this.lastError = null;
    const { after, binding } = stream;
    if ((hello.lastSeq as number) < after) this.log.warn(`portal: the portal's last sequence ${String(hello.lastSeq)} is behind ours (${after}); its commands up to ${after} will be refused as replays`);
    this.log.info(`portal: connected to ${binding.portalUrl}`);
    void this.flush();
  }

  /** An event over the envelope bound: a command is refused (too_large) and the stream goes on; anything else drops it. */
  private onOversizeEvent(bytes: number, event: string, control: StreamControl): void {
    if (event === 'command') this.enqueueCommand(null, bytes);
    else control.fail(new PortalLinkError('bad_portal_reply', `the portal sent a ${bytes}-byte ${event} event (limit ${MAX_ENVELOPE_BYTES})`));
  }

  /** A checked hello or heartbeat, or the reason it is refused. */
  private timeMessage(b: Binding, ev: SseEvent, streamNonce: string): Record<string, unknown> | string {
    let m: unknown;
    try {
      m = JSON.parse(ev.data);
    } catch {
      return `${ev.event} is not JSON`;
    }
    const bad = check('messages', ev.event, m, ev.event);
    if (bad) return bad;
    const msg = m as Record<string, unknown>;
    if (!verifyMessage('portal', msg, b.portalPublicKey)) return `${ev.event} signature does not verify with the pinned portal key`;
    if (msg.nasId !== b.nasId) return `${ev.event} is for NAS ${String(msg.nasId)}`;
    if (msg.stream !== streamNonce) return `${ev.event} belongs to another stream (a replayed time message)`;
    return msg;
  }

  private enqueueCommand(data: string | null, oversizeBytes = 0): void {
    const receiver = this.receiver;
    if (!receiver) return;
    this.commands = this.commands.then(async () => {
      const ack = data === null
        ? await receiver.refuse({ code: 'too_large', message: `envelope of ${oversizeBytes} bytes is over the ${MAX_ENVELOPE_BYTES}-byte limit`, seq: null, type: null })
        : await receiver.receive(data);
      if (ack) this.queue('acks', ack);
    }).catch((e: unknown) => {
      this.log.error(`portal: applying a command failed: ${(e as Error).message}`);
    });
  }

  private queue<K extends 'acks' | 'reports'>(kind: K, item: (typeof this.outbox)[K][number]): void {
    const list = this.outbox[kind] as Array<typeof item>;
    list.push(item);
    if (list.length > OUTBOX_LIMIT) list.splice(0, list.length - OUTBOX_LIMIT);
    void this.flush();
  }

  private report(event: Report['event'], d: Device): void {
    if (!this.binding || d.source !== 'portal') return;
    this.queue('reports', {
      event, deviceId: d.id, address: d.address, sessionId: d.sessionId, at: Math.max(0, Math.floor(d.endedAt ?? this.now())),
      by: d.endedBy ? d.endedBy.slice(0, 200) : null, reason: d.endReason ? d.endReason.slice(0, 500) : null,
    });
  }

  /** Sends queued acks and reports while connected; on failure they wait for the next hello. */
  private async flush(): Promise<void> {
    const b = this.binding;
    if (this.flushing || !this.connected || !b) return;
    this.flushing = true;
    try {
      while (this.connected && this.binding === b && (this.outbox.acks.length > 0 || this.outbox.reports.length > 0)) {
        const acks = this.outbox.acks.slice(0, 100);
        const reports = this.outbox.reports.slice(0, 100);
        const challenge = await this.challenge(b);
        await postJson(`${b.portalUrl}/api/nas/v1/messages`,
          signMessage('nas', { v: 1, nasId: b.nasId, challenge, type: 'messages', body: { acks, reports } }, b.nasPrivateKey),
          this.timeoutMs, 'sending acks and reports', this.trackOne());
        this.outbox.acks.splice(0, acks.length);
        this.outbox.reports.splice(0, reports.length);
      }
    } catch (e) {
      this.log.warn(`portal: ${(e as Error).message}; will retry after reconnecting`);
    } finally {
      this.flushing = false;
    }
  }
}
