// Accepting and applying portal commands (PROTOCOL.md §5-§7). One envelope at a time: verify, refuse and
// audit, or advance the stored sequence and apply it to the engine. Engine errors become per-item results.
import { parseDeviceAddress, KERNEL_MAX_TIMEOUT, kernelTimeoutSeconds, withoutUnshowable } from '../domain';
import type { Actor, Device, EngineApi, ExpiryRequest } from '../engine';
import type { PortalConfig } from '../config';
import { StoreError, type Store } from '../store';
import type { Binding } from './binding';
import { verifyEnvelope, type Envelope, type Refusal } from './envelope';
import { check } from './schemas';

export interface Result {
  ok: boolean;
  item?: number;
  ref?: string;
  address?: string;
  sessionId?: string;
  deviceId?: number;
  /** A portal device always has one (only an administrator registers until revoked). */
  expiresAt?: number;
  state?: Device['state'];
  code?: string;
  message?: string;
}

export interface Ack {
  seq: number;
  ok: boolean;
  error?: { code: string; message: string };
  results?: Result[];
}

export interface Log {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ReceiverDeps {
  engine: EngineApi;
  /** What commands need of the store: their audit rows and the portal's sequence number. */
  store: Pick<Store, 'appendAudit' | 'getPortalSequence' | 'setPortalSequence'>;
  config: PortalConfig;
  binding: Binding;
  log: Log;
  /** NAS wall clock (the engine's clock), ms. */
  now: () => number;
  monoNow: () => number;
  /** Every refused command, for the NAS's event log (summarised there). */
  onRefused?: (refusal: Refusal) => void;
}

type FixedBody = { policy: 'fixed'; seconds: number };
type SessionBody = { policy: 'session'; sessionId: string; leaseSeconds: number };
interface RegisterBody { ref: string; address: string; label: string; qnapId: string; expiry: FixedBody | SessionBody }
interface RevokeBody { ref?: string; deviceId?: number; address?: string; reason: string; qnapId?: string }
interface SessionEndedBody { sessionId: string; qnapId?: string; reason?: string }
interface LeaseRenewBody { sessionId: string; leaseSeconds: number; qnapId?: string }
interface ResyncDevice {
  ref: string; deviceId: number | null; address: string; label: string; qnapId: string;
  expiry: { policy: 'fixed'; expiresAt: number } | SessionBody;
}
type BatchItem = { type: 'register' | 'revoke' | 'session-ended' | 'lease-renew'; body: Record<string, unknown> };

/** Refusal audit rows allowed per minute; more are counted and summed up in the next row. */
const REFUSAL_AUDITS_PER_MINUTE = 30;
const BATCH_ORDER: Record<BatchItem['type'], number> = { revoke: 0, 'session-ended': 0, 'lease-renew': 1, register: 2 };

function errorResult(err: unknown): Pick<Result, 'ok' | 'code' | 'message'> {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' && /^[a-z_]{1,40}$/.test(e.code) ? e.code : 'error';
  const message = typeof e?.message === 'string' ? e.message.slice(0, 500) : String(err).slice(0, 500);
  return { ok: false, code, message };
}

/** Canonical text of an address for comparison, or null; the engine remains the judge of what it accepts. */
export function canonicalAddress(text: string): string | null {
  try {
    return parseDeviceAddress(text, { allowPrefixes: true, maxPrefixWidthV4: 1, maxPrefixWidthV6: 1 }).text;
  } catch {
    return null;
  }
}

export class CommandReceiver {
  private portalOffset: number | null = null;
  private refusalWindowStart = -Infinity;
  private refusalsInWindow = 0;
  private refusalsSuppressed = 0;

  constructor(private readonly deps: ReceiverDeps) {}

  /** A signed portal time (hello, heartbeat) just arrived. */
  setPortalTime(portalNow: number): void {
    this.portalOffset = portalNow - this.deps.monoNow();
  }

  /** The portal's time now as the NAS estimates it, or null before any hello. */
  portalNow(): number | null {
    return this.portalOffset === null ? null : this.deps.monoNow() + this.portalOffset;
  }

  private actor(qnapId?: string): Actor {
    return { surface: 'portal', name: qnapId ?? this.deps.binding.qnapId };
  }

  private leaseWithGrace(leaseSeconds: number): number {
    return Math.min(KERNEL_MAX_TIMEOUT, leaseSeconds + this.deps.config.leaseGraceSeconds);
  }

  /** Audits a refusal (rate-limited), logs it, and returns the ack the portal gets, if the seq was readable. */
  async refuse(refusal: Refusal): Promise<Ack | null> {
    const { code, seq, type, message } = refusal;
    this.deps.log.warn(`portal: refused command seq ${seq ?? '?'} (${type ?? '?'}): ${code}: ${message}`);
    this.deps.onRefused?.(refusal);
    const t = this.deps.monoNow();
    if (t - this.refusalWindowStart >= 60_000) {
      this.refusalWindowStart = t;
      this.refusalsInWindow = 0;
    }
    if (this.refusalsInWindow < REFUSAL_AUDITS_PER_MINUTE) {
      this.refusalsInWindow++;
      const more = this.refusalsSuppressed > 0 ? ` (and ${this.refusalsSuppressed} earlier refusal(s) not logged: too many)` : '';
      this.refusalsSuppressed = 0;
      try {
        await this.deps.store.appendAudit({
          actor: this.actor(), action: 'portal-refuse',
          detail: `${code}: seq ${seq ?? '?'} type ${type ?? '?'}: ${message}${more}`.slice(0, 1000),
        });
      } catch (e) {
        this.deps.log.error(`portal: cannot audit a refused command: ${(e as Error).message}`);
      }
    } else {
      this.refusalsSuppressed++;
    }
    return seq === null ? null : { seq, ok: false, error: { code, message: message.slice(0, 500) } };
  }

  /** Verifies one envelope (the raw `data` of a stream event) and applies it. */
  async receive(raw: string): Promise<Ack | null> {
    const { binding, store, config } = this.deps;
    const portalNow = this.portalNow();
    if (portalNow === null) {
      return this.refuse({ code: 'expired', message: 'no signed portal time yet (a command before hello)', seq: null, type: null });
    }
    const lastSeq = (await store.getPortalSequence(binding.nasId)) ?? 0;
    const verified = verifyEnvelope(raw, {
      nasId: binding.nasId, portalPublicKey: binding.portalPublicKey, lastSeq, portalNow, skewMs: config.skewSeconds * 1000,
    });
    if (!verified.ok) return this.refuse(verified.refusal);
    const env = verified.envelope;
    try {
      await store.setPortalSequence(binding.nasId, env.seq);
    } catch (e) {
      if (e instanceof StoreError && e.code === 'portal_sequence_backwards') {
        return this.refuse({ code: 'replayed', message: e.message, seq: env.seq, type: env.type });
      }
      throw e;
    }
    this.deps.log.info(`portal: accepted command seq ${env.seq} (${env.type})`);
    return { seq: env.seq, ok: true, results: await this.apply(env) };
  }

  private async apply(env: Envelope): Promise<Result[]> {
    const body = env.body as never;
    switch (env.type) {
      case 'register': return [await this.register(body)];
      case 'revoke': return [await this.revoke(body)];
      case 'session-ended': return this.sessionEnded(body);
      case 'lease-renew': return this.leaseRenew(body);
      case 'resync': return this.resync((env.body as { devices: ResyncDevice[] }).devices);
      case 'batch': return this.batch(env, (env.body as { items: BatchItem[] }).items);
      case 'register-device': return [await this.registerDevice(body)];
      case 'add-address': return [await this.addAddress(body)];
    }
  }

  /** A device with every address the portal itself saw it from (PROTOCOL.md §6a). */
  private async registerDevice(b: { ref: string; addresses: string[]; label: string; qnapId: string; expiry: RegisterBody['expiry'] }): Promise<Result> {
    const expiry: ExpiryRequest = b.expiry.policy === 'fixed'
      ? { policy: 'fixed', seconds: b.expiry.seconds }
      : { policy: 'session', sessionId: b.expiry.sessionId, leaseSeconds: this.leaseWithGrace(b.expiry.leaseSeconds) };
    const [address, ...moreAddresses] = b.addresses;
    try {
      const d = await this.deps.engine.register({ address, moreAddresses, label: portalLabel(b.label), qnapId: b.qnapId, source: 'portal', expiry }, this.actor(b.qnapId));
      return { ok: true, ref: b.ref, address: d.address, deviceId: d.id, expiresAt: d.expiresAt ?? undefined };
    } catch (e) {
      return { ref: b.ref, address, ...errorResult(e) };
    }
  }

  /**
   * The same signed-in session seen from a new address (PROTOCOL.md §6a): added to that session's portal device,
   * whose expiry stays; anything else (a local device, another session) is refused.
   */
  private async addAddress(b: { deviceId: number; sessionId: string; address: string; qnapId?: string }): Promise<Result> {
    const base: Result = { ok: false, deviceId: b.deviceId, address: b.address };
    try {
      const device = (await this.deps.engine.list()).find((d) => d.id === b.deviceId);
      if (!device) return { ...base, code: 'not_found', message: `no active device ${b.deviceId}` };
      if (device.source !== 'portal' || device.sessionId !== b.sessionId) {
        return { ...base, code: 'not_portal_device', message: `device ${b.deviceId} is not a device of session ${b.sessionId}` };
      }
      const d = await this.deps.engine.addAddress(b.deviceId, b.address, this.actor(b.qnapId));
      return { ok: true, deviceId: d.id, address: b.address, expiresAt: d.expiresAt ?? undefined };
    } catch (e) {
      return { ...base, ...errorResult(e) };
    }
  }

  private async register(b: RegisterBody): Promise<Result> {
    const expiry: ExpiryRequest = b.expiry.policy === 'fixed'
      ? { policy: 'fixed', seconds: b.expiry.seconds }
      : { policy: 'session', sessionId: b.expiry.sessionId, leaseSeconds: this.leaseWithGrace(b.expiry.leaseSeconds) };
    return this.registerExpiry(b.ref, b.address, b.label, b.qnapId, expiry);
  }

  private async registerExpiry(ref: string, address: string, label: string, qnapId: string, expiry: ExpiryRequest): Promise<Result> {
    try {
      const d = await this.deps.engine.register({ address, label: portalLabel(label), qnapId, source: 'portal', expiry }, this.actor(qnapId));
      return { ok: true, ref, address: d.address, deviceId: d.id, expiresAt: d.expiresAt ?? undefined };
    } catch (e) {
      return { ref, address, ...errorResult(e) };
    }
  }

  private async revoke(b: RevokeBody): Promise<Result> {
    const base: Result = { ok: false, ...(b.ref ? { ref: b.ref } : {}) };
    try {
      const active = await this.deps.engine.list();
      let device: Device | undefined;
      if (b.deviceId !== undefined) {
        device = active.find((d) => d.id === b.deviceId);
      } else {
        const addr = canonicalAddress(b.address as string);
        if (addr === null) return { ...base, address: b.address, code: 'bad_address', message: `${JSON.stringify(b.address)} is not a valid address` };
        // The portal revokes its own registration of the address; a local one beside it is the admin's.
        device = active.find((d) => d.address === addr && d.source === 'portal') ?? active.find((d) => d.address === addr);
      }
      const what = b.deviceId !== undefined ? `device ${b.deviceId}` : `address ${b.address}`;
      if (!device) return { ...base, ...(b.address ? { address: b.address } : { deviceId: b.deviceId }), code: 'not_found', message: `no active ${what}` };
      if (device.source !== 'portal') {
        return { ...base, deviceId: device.id, address: device.address, code: 'not_portal_device', message: `${what} was registered on the NAS, not through the portal` };
      }
      const d = await this.deps.engine.revoke(device.id, this.actor(b.qnapId), b.reason || 'revoked on the portal');
      return { ...base, ok: true, deviceId: d.id, address: d.address, state: d.state };
    } catch (e) {
      return { ...base, ...errorResult(e) };
    }
  }

  private async sessionEnded(b: SessionEndedBody): Promise<Result[]> {
    try {
      const ended = await this.deps.engine.endSession(b.sessionId, this.actor(b.qnapId), b.reason || 'signed out of the portal');
      return [{ ok: true, sessionId: b.sessionId }, ...ended.map((d) => ({ ok: true, sessionId: b.sessionId, deviceId: d.id, address: d.address, state: d.state }))];
    } catch (e) {
      return [{ sessionId: b.sessionId, ...errorResult(e) }];
    }
  }

  private async leaseRenew(b: LeaseRenewBody): Promise<Result[]> {
    try {
      const renewed = await this.deps.engine.renewSession(b.sessionId, this.leaseWithGrace(b.leaseSeconds), this.actor(b.qnapId));
      return [{ ok: true, sessionId: b.sessionId }, ...renewed.map((d) => ({ ok: true, sessionId: b.sessionId, deviceId: d.id, address: d.address, expiresAt: d.expiresAt ?? undefined }))];
    } catch (e) {
      return [{ sessionId: b.sessionId, ...errorResult(e) }];
    }
  }

  /** PROTOCOL.md §7: revoke what the portal does not list, then register or renew what it does. */
  private async resync(devices: ResyncDevice[]): Promise<Result[]> {
    const { engine, config } = this.deps;
    const results: Result[] = [];
    const listed = new Map<number, string>();
    devices.forEach((item, i) => {
      const addr = canonicalAddress(item.address);
      if (addr === null) results.push({ ok: false, item: i, ref: item.ref, address: item.address, code: 'bad_address', message: `${JSON.stringify(item.address)} is not a valid address` });
      else listed.set(i, addr);
    });
    const listedAddrs = new Set(listed.values());
    const actor = this.actor();
    let active: Device[];
    try {
      active = (await engine.list()).filter((d) => d.source === 'portal');
    } catch (e) {
      return [{ ...errorResult(e) }];
    }
    for (const d of active) {
      if (listedAddrs.has(d.address)) continue;
      try {
        await engine.revoke(d.id, actor, "not in the portal's list (resync)");
        results.push({ ok: true, deviceId: d.id, address: d.address, state: 'revoked' });
      } catch (e) {
        results.push({ deviceId: d.id, address: d.address, ...errorResult(e) });
      }
    }
    const stillActive = new Map(active.filter((d) => listedAddrs.has(d.address)).map((d) => [d.address, d]));
    let all: Device[] | null = null;
    const renewed = new Set<string>();
    for (const [i, addr] of listed) {
      const item = devices[i];
      const base = { item: i, ref: item.ref, address: addr };
      const current = stillActive.get(addr);
      if (item.deviceId !== null && current?.id !== item.deviceId) {
        all ??= await engine.list({ all: true }).catch(() => [] as Device[]);
        const known = all.find((d) => d.id === item.deviceId);
        if (known && known.state !== 'active' && known.address === addr) {
          results.push({ ...base, ok: false, deviceId: known.id, state: known.state, code: 'ended', message: `device ${known.id} was ${known.state} on the NAS; register it again to restore access` });
          continue;
        }
      }
      const e = item.expiry;
      if (e.policy === 'session') {
        if (current && current.policy === 'session' && current.sessionId === e.sessionId) {
          if (!renewed.has(e.sessionId)) {
            renewed.add(e.sessionId);
            try {
              await engine.renewSession(e.sessionId, this.leaseWithGrace(e.leaseSeconds), this.actor(item.qnapId));
            } catch (err) {
              results.push({ ...base, ...errorResult(err) });
              continue;
            }
          }
          results.push({ ...base, ok: true, deviceId: current.id });
          continue;
        }
        results.push({ item: i, ...(await this.registerExpiry(item.ref, item.address, item.label, item.qnapId,
          { policy: 'session', sessionId: e.sessionId, leaseSeconds: this.leaseWithGrace(e.leaseSeconds) })) });
        continue;
      }
      const remainingMs = e.expiresAt - (this.portalNow() ?? 0);
      const seconds = kernelTimeoutSeconds(remainingMs);
      if (seconds === null) {
        results.push({ ...base, ok: false, code: 'expired', message: 'its fixed period ended before the resync' });
        continue;
      }
      if (current && current.policy === 'fixed' && current.expiresAt !== null && Math.abs(current.expiresAt - (this.deps.now() + remainingMs)) <= config.skewSeconds * 1000) {
        results.push({ ...base, ok: true, deviceId: current.id, expiresAt: current.expiresAt });
        continue;
      }
      results.push({ item: i, ...(await this.registerExpiry(item.ref, item.address, item.label, item.qnapId, { policy: 'fixed', seconds })) });
    }
    return results;
  }

  /** Revocations first, then renewals, then registrations; a bad item is refused alone. */
  private async batch(env: Envelope, items: BatchItem[]): Promise<Result[]> {
    const order = items.map((it, i) => ({ it, i })).sort((a, b) => BATCH_ORDER[a.it.type] - BATCH_ORDER[b.it.type] || a.i - b.i);
    const results: Result[] = [];
    for (const { it, i } of order) {
      const bad = check('commands', it.type, it.body, `body.items[${i}].body`);
      if (bad) {
        await this.refuse({ code: 'bad_body', message: bad, seq: env.seq, type: `batch/${it.type}` });
        results.push({ ok: false, item: i, code: 'bad_body', message: bad });
        continue;
      }
      const body = it.body as never;
      const out = it.type === 'register' ? [await this.register(body)]
        : it.type === 'revoke' ? [await this.revoke(body)]
          : it.type === 'session-ended' ? await this.sessionEnded(body)
            : await this.leaseRenew(body);
      for (const r of out) results.push({ item: i, ...r });
    }
    return results;
  }
}

/**
 * A label as the owner typed it on the portal, less the controls and direction marks the NAS does not show
 * (a right-to-left name often carries one): they must not cost the device its access, as a refusal would.
 */
function portalLabel(label: string): string {
  return withoutUnshowable(label);
}
