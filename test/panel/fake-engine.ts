// An in-memory EngineApi that behaves like the engine as far as the panel can tell: register (domain address
// and expiry rules), revoke (id or address; ended devices stay ended), expiry on time, audit, events.
import { firstInListOrder } from '../../module/domain';
import { parseDeviceAddress } from '../../module/domain/address';
import { checkExpiry, DEFAULT_POLICY_BOUNDS, expiresAtFor } from '../../module/domain/policy';
import type { Actor, AuditEntry, Device, EngineApi, EngineEvents, RegisterRequest, Status } from '../../module/engine/contract';

export interface FakeEngineOptions {
  portal?: Status['portal'];
  lanNetworks?: string[];
}

export class FakeEngine implements EngineApi {
  enabled = false;
  readonly devices: Device[] = [];
  readonly entries: AuditEntry[] = [];
  private readonly listeners = new Map<string, Set<(p: unknown) => void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextId = 1;
  portal: Status['portal'];
  lanNetworks: string[];

  constructor(opts: FakeEngineOptions = {}) {
    this.portal = opts.portal ?? { configured: true, bound: true, connected: true };
    this.lanNetworks = opts.lanNetworks ?? ['192.168.1.0/24', 'fd00:1::/64'];
  }

  private emit<K extends keyof EngineEvents>(event: K, payload: EngineEvents[K]): void {
    for (const l of this.listeners.get(event) ?? []) {
      try { l(payload); } catch { /* isolated */ }
    }
  }

  private log(by: Actor, action: string, device: Device | null, detail = ''): void {
    this.entries.push({ id: this.entries.length + 1, at: Date.now(), surface: by.surface, actor: by.name, action, deviceId: device?.id ?? null, address: device?.address ?? null, detail });
  }

  async status(): Promise<Status> {
    return {
      enabled: this.enabled, enforcing: this.enabled, activeDevices: this.devices.filter(d => d.state === 'active').length,
      lanNetworks: this.lanNetworks, clockTrusted: true, clockNote: null, ipv6Scope: 'network', allowUntilRevoked: false, storeRecovered: null, storageFull: null, quarantinedRows: 0, unrecordedEnds: 0, portal: this.portal, version: '0.1.0-fake',
    };
  }

  async enable(by: Actor): Promise<void> {
    if (this.enabled) return;
    this.enabled = true;
    this.log(by, 'enable', null);
    this.emit('enabled', { by });
  }

  async disable(by: Actor): Promise<void> {
    if (!this.enabled) return;
    this.enabled = false;
    this.log(by, 'disable', null);
    this.emit('disabled', { by });
  }

  async list(opts: { all?: boolean } = {}): Promise<Device[]> {
    return this.devices.filter(d => opts.all || d.state === 'active').map(d => ({ ...d }));
  }

  async register(req: RegisterRequest, by: Actor): Promise<Device> {
    const net = parseDeviceAddress(req.address, { allowPrefixes: false });
    const expiry = checkExpiry(req.expiry, DEFAULT_POLICY_BOUNDS);
    const now = Date.now();
    for (const d of this.devices) {
      if (d.state === 'active' && d.address === net.text) this.end(d, 'revoked', { surface: 'system', name: 'sipa' }, 'registered again');
    }
    const device: Device = {
      id: this.nextId++, address: net.text, addresses: [net.text], family: net.family, prefix: net.prefix, label: req.label ?? '',
      qnapId: req.qnapId ?? null, source: req.source, policy: expiry.policy,
      sessionId: expiry.policy === 'session' ? expiry.sessionId : null, registeredAt: now,
      expiresAt: expiresAtFor(expiry, now), state: 'active', endedAt: null, endedBy: null, endReason: null,
    };
    this.devices.push(device);
    this.log(by, 'register', device, expiry.policy === 'until-revoked' ? 'until revoked' : `${expiry.policy} ${expiry.policy === 'fixed' ? expiry.seconds : expiry.leaseSeconds}s`);
    this.emit('registered', { device: { ...device } });
    if (device.expiresAt === null) return { ...device };
    const t = setTimeout(() => {
      this.timers.delete(t);
      const d = this.devices.find(x => x.id === device.id);
      if (d && d.state === 'active') this.end(d, 'expired', { surface: 'system', name: 'sipa' }, 'time limit reached');
    }, device.expiresAt - now);
    t.unref();
    this.timers.add(t);
    return { ...device };
  }

  private end(d: Device, to: 'expired' | 'revoked', by: Actor, reason: string | null): Device {
    // As the store ends a device: only an active one, once (the engine checks before it gets here).
    if (d.state !== 'active') throw Object.assign(new Error(`device ${d.id} is already ${d.state}`), { code: 'conflict' });
    Object.assign(d, { state: to, endedAt: Date.now(), endedBy: by.name, endReason: reason });
    this.log(by, to === 'expired' ? 'expire' : 'revoke', d, reason ?? '');
    this.emit(to, { device: { ...d } });
    return { ...d };
  }

  /** What the kernel's timeout does, without waiting for it (tests). */
  expireNow(address: string): void {
    const d = this.devices.find(x => x.address === address && x.state === 'active');
    if (d) this.end(d, 'expired', { surface: 'system', name: 'sipa' }, 'time limit reached');
  }

  async *listPages(opts: { all?: boolean } = {}): AsyncIterable<Device[]> {
    yield await this.list(opts);
  }

  async allows(address: string): Promise<boolean> {
    return (await this.list()).some(d => d.addresses.includes(address));
  }

  async firstActive(limit: number): Promise<{ devices: Device[]; total: number }> {
    const active = await this.list();
    return { devices: firstInListOrder(active, limit), total: active.length };
  }

  async addAddress(deviceId: number, address: string): Promise<Device> {
    const d = (await this.list()).find(x => x.id === deviceId);
    if (!d) throw Object.assign(new Error(`no active device ${deviceId}`), { code: 'not_found' });
    d.addresses = [...d.addresses, address];
    return d;
  }

  async registerMany(reqs: readonly RegisterRequest[], by: Actor): Promise<{ devices: Device[]; renewed: number }> {
    const devices: Device[] = [];
    for (const r of reqs) devices.push(await this.register(r, by));
    return { devices, renewed: 0 };
  }

  async revokeMany(items: ReadonlyArray<number | string>, by: Actor, reason?: string): Promise<{ revoked: Device[]; notFound: Array<number | string> }> {
    const revoked: Device[] = [];
    for (const x of items) revoked.push(await this.revoke(x, by, reason));
    return { revoked, notFound: [] };
  }

  async revoke(idOrAddress: number | string, by: Actor, reason?: string): Promise<Device> {
    const matches = this.devices.filter(d => (typeof idOrAddress === 'number' ? d.id === idOrAddress : d.address === idOrAddress));
    const d = matches.find(x => x.state === 'active') ?? matches[matches.length - 1];
    if (!d) throw Object.assign(new Error(`revoke: no device ${idOrAddress} (see sipa list)`), { code: 'not_found' });
    return this.end(d, 'revoked', by, reason ?? null);
  }

  async endSession(sessionId: string, by: Actor, reason?: string): Promise<Device[]> {
    return this.devices.filter(d => d.state === 'active' && d.sessionId === sessionId).map(d => this.end(d, 'revoked', by, reason ?? 'signed out'));
  }

  async renewSession(sessionId: string, leaseSeconds: number): Promise<Device[]> {
    return this.devices.filter(d => d.state === 'active' && d.sessionId === sessionId).map(d => {
      d.expiresAt = Date.now() + leaseSeconds * 1000;
      return { ...d };
    });
  }

  async audit(opts: { limit?: number; beforeId?: number; text?: string } = {}): Promise<AuditEntry[]> {
    const q = opts.text?.toLowerCase();
    return this.entries.slice().reverse()
      .filter(a => opts.beforeId === undefined || a.id < opts.beforeId)
      .filter(a => !q || [a.actor, a.surface, a.action, a.address ?? '', a.detail].some(t => t.toLowerCase().includes(q)))
      .slice(0, opts.limit ?? 100);
  }

  on<K extends keyof EngineEvents>(event: K, listener: (payload: EngineEvents[K]) => void): () => void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    const set = this.listeners.get(event)!;
    const l = listener as (p: unknown) => void;
    set.add(l);
    return () => { set.delete(l); };
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
