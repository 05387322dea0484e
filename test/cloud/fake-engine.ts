// An in-memory EngineApi for the cloud tests: records every call, keeps devices, emits events.
import { firstInListOrder } from '../../module/domain';
import { parseDeviceAddress } from '../../module/domain/address';
import type { Actor, Device, EngineApi, EngineEvents, RegisterRequest, Status } from '../../module/engine/contract';

export interface Call { method: string; args: unknown[] }

export class FakeEngine implements EngineApi {
  devices: Device[] = [];
  calls: Call[] = [];
  private nextId = 1;
  private listeners = new Map<string, Array<(p: unknown) => void>>();

  constructor(private readonly clock: () => number = Date.now) {}

  /** How register reads an address; a test on loopback (which the NAS refuses) swaps it. */
  parse: (address: string) => { text: string; family: 4 | 6; prefix: number } = (address) => parseDeviceAddress(address, { allowPrefixes: false });

  callsOf(method: string): unknown[][] {
    return this.calls.filter((c) => c.method === method).map((c) => c.args);
  }

  /** Calls that change something (everything but list/status/audit). */
  changes(): Call[] {
    return this.calls.filter((c) => !['list', 'status', 'audit'].includes(c.method));
  }

  active(): Device[] {
    return this.devices.filter((d) => d.state === 'active');
  }

  emit<K extends keyof EngineEvents>(event: K, payload: EngineEvents[K]): void {
    for (const l of this.listeners.get(event) ?? []) l(payload);
  }

  async status(): Promise<Status> {
    this.calls.push({ method: 'status', args: [] });
    return { enabled: true, enforcing: true, activeDevices: this.active().length, lanNetworks: [], clockTrusted: true, clockNote: null, ipv6Scope: 'network', allowUntilRevoked: false, storeRecovered: null, storageFull: null, quarantinedRows: 0, unrecordedEnds: 0, portal: { configured: true, bound: true, connected: true }, version: 'test' };
  }

  async enable(): Promise<void> {}
  async disable(): Promise<void> {}

  async list(opts?: { all?: boolean }): Promise<Device[]> {
    this.calls.push({ method: 'list', args: [opts] });
    return (opts?.all ? this.devices : this.active()).map((d) => ({ ...d }));
  }

  async register(req: RegisterRequest, by: Actor): Promise<Device> {
    this.calls.push({ method: 'register', args: [req, by] });
    const net = this.parse(req.address);
    if (req.expiry.policy === 'until-revoked') throw Object.assign(new Error('a portal registration has an end'), { code: 'conflict' });
    const seconds = req.expiry.policy === 'fixed' ? req.expiry.seconds : req.expiry.leaseSeconds;
    if (seconds < 60) throw Object.assign(new Error(`expiry ${seconds}s is below the minimum 60s`), { code: 'bad_expiry' });
    const now = this.clock();
    const existing = this.devices.find((d) => d.state === 'active' && d.address === net.text);
    const fields = {
      label: req.label ?? '', qnapId: req.qnapId ?? null, source: req.source, policy: req.expiry.policy,
      sessionId: req.expiry.policy === 'session' ? req.expiry.sessionId : null, registeredAt: now, expiresAt: now + seconds * 1000,
    } as const;
    if (existing) {
      Object.assign(existing, fields, { addresses: [net.text, ...(req.moreAddresses ?? [])] });
      return { ...existing };
    }
    const d: Device = { id: this.nextId++, address: net.text, addresses: [net.text, ...(req.moreAddresses ?? [])], family: net.family, prefix: net.prefix, ...fields, state: 'active', endedAt: null, endedBy: null, endReason: null };
    this.devices.push(d);
    this.emit('registered', { device: { ...d } });
    return { ...d };
  }

  private end(d: Device, state: 'revoked' | 'expired', by: string, reason: string | null): Device {
    Object.assign(d, { state, endedAt: this.clock(), endedBy: by, endReason: reason });
    this.emit(state, { device: { ...d } });
    return { ...d };
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
    const d = this.devices.find(x => x.id === deviceId && x.state === 'active');
    if (!d) throw Object.assign(new Error(`no active device ${deviceId}`), { code: 'not_found' });
    d.addresses = [...d.addresses, address];
    return { ...d };
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
    this.calls.push({ method: 'revoke', args: [idOrAddress, by, reason] });
    const d = this.active().find((x) => x.id === idOrAddress || x.address === idOrAddress);
    if (!d) throw Object.assign(new Error(`revoke: no device ${String(idOrAddress)}`), { code: 'not_found' });
    return this.end(d, 'revoked', `${by.surface}:${by.name}`, reason ?? null);
  }

  /** What the kernel does when a timeout runs out (or an admin revokes locally). */
  expire(id: number): Device {
    const d = this.active().find((x) => x.id === id);
    if (!d) throw new Error(`no active device ${id}`);
    return this.end(d, 'expired', 'system:sipa', 'timeout');
  }

  async endSession(sessionId: string, by: Actor, reason?: string): Promise<Device[]> {
    this.calls.push({ method: 'endSession', args: [sessionId, by, reason] });
    return this.active().filter((d) => d.sessionId === sessionId).map((d) => this.end(d, 'revoked', `${by.surface}:${by.name}`, reason ?? null));
  }

  async renewSession(sessionId: string, leaseSeconds: number, by: Actor): Promise<Device[]> {
    this.calls.push({ method: 'renewSession', args: [sessionId, leaseSeconds, by] });
    const now = this.clock();
    return this.active().filter((d) => d.sessionId === sessionId).map((d) => { d.expiresAt = now + leaseSeconds * 1000; return { ...d }; });
  }

  async audit(): Promise<never[]> {
    return [];
  }

  on<K extends keyof EngineEvents>(event: K, listener: (payload: EngineEvents[K]) => void): () => void {
    const list = this.listeners.get(event) ?? [];
    list.push(listener as (p: unknown) => void);
    this.listeners.set(event, list);
    return () => { this.listeners.set(event, (this.listeners.get(event) ?? []).filter((l) => l !== listener)); };
  }
}
