import type { Device } from '../domain';

export interface ActiveDevice<Net extends { key: string }> {
  device: Device;
  /** Monotonic milliseconds. */
  deadline: number;
  /** Its kernel entries (an IPv6 host may be widened to its /64; two devices may share one). */
  nets: Net[];
}

/**
 * The active devices in memory, indexed by what a register, a revoke and the expiry timer ask, so that none of
 * them walks every device: with 10,000 devices a walk is ~10 ms interpreted (the packaged daemon runs
 * --lite-mode), three walks per register made up most of its cost.
 */
export class ActiveDevices<Net extends { key: string }> implements Iterable<[number, ActiveDevice<Net>]> {
  private readonly byId = new Map<number, ActiveDevice<Net>>();
  /** Kernel entry key → the devices that hold it. */
  private readonly holders = new Map<string, Set<number>>();
  /** `source address` → the devices of that source that have the address. */
  private readonly withAddress = new Map<string, Set<number>>();
  /** The earliest deadline; undefined when it must be looked for again. */
  private earliest: number | undefined = Infinity;

  get size(): number { return this.byId.size; }
  get(id: number): ActiveDevice<Net> | undefined { return this.byId.get(id); }
  has(id: number): boolean { return this.byId.has(id); }
  values(): IterableIterator<ActiveDevice<Net>> { return this.byId.values(); }
  [Symbol.iterator](): IterableIterator<[number, ActiveDevice<Net>]> { return this.byId.entries(); }

  set(id: number, record: ActiveDevice<Net>): void {
    const old = this.byId.get(id);
    if (old) this.unindex(id, old);
    this.byId.set(id, record);
    for (const net of record.nets) add(this.holders, net.key, id);
    for (const address of record.device.addresses) add(this.withAddress, addressKey(record.device.source, address), id);
    if (old && old.deadline === this.earliest && record.deadline > old.deadline) this.earliest = undefined;
    else if (this.earliest !== undefined) this.earliest = Math.min(this.earliest, record.deadline);
  }

  delete(id: number): boolean {
    const old = this.byId.get(id);
    if (!old) return false;
    this.unindex(id, old);
    this.byId.delete(id);
    if (old.deadline === this.earliest) this.earliest = undefined;
    return true;
  }

  /** The devices holding a kernel entry. */
  holdersOf(key: string): ReadonlySet<number> {
    return this.holders.get(key) ?? NONE;
  }

  /** The active devices that have `address` among their addresses: of one source, or of any. */
  idsWithAddress(address: string, source?: Device['source']): number[] {
    if (source !== undefined) return [...(this.withAddress.get(addressKey(source, address)) ?? NONE)];
    return SOURCES.flatMap(s => [...(this.withAddress.get(addressKey(s, address)) ?? NONE)]);
  }

  earliestDeadline(): number {
    if (this.earliest === undefined) {
      let next = Infinity;
      for (const { deadline } of this.byId.values()) next = Math.min(next, deadline);
      this.earliest = next;
    }
    return this.earliest;
  }

  private unindex(id: number, record: ActiveDevice<Net>): void {
    for (const net of record.nets) remove(this.holders, net.key, id);
    for (const address of record.device.addresses) remove(this.withAddress, addressKey(record.device.source, address), id);
  }
}

const NONE: ReadonlySet<number> = new Set();
const SOURCES: ReadonlyArray<Device['source']> = ['local', 'portal'];

function addressKey(source: Device['source'], address: string): string {
  return `${source} ${address}`;
}

function add(index: Map<string, Set<number>>, key: string, id: number): void {
  const ids = index.get(key);
  if (ids) ids.add(id);
  else index.set(key, new Set([id]));
}

function remove(index: Map<string, Set<number>>, key: string, id: number): void {
  const ids = index.get(key);
  if (!ids) return;
  ids.delete(id);
  if (ids.size === 0) index.delete(key);
}
