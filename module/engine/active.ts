import type { Device } from '../domain';

export interface ActiveDevice<Entry extends string> {
  device: Device;
  /** Monotonic milliseconds. */
  deadline: number;
  /** Its kernel entries, each its own key (an IPv6 host may be widened to its /64; two devices may share one). */
  nets: Entry[];
}

/**
 * The active devices in memory, indexed by what a register, a revoke and the expiry timer ask, so that none of
 * them walks every device: with 10,000 devices a walk is ~10 ms interpreted (the packaged daemon runs
 * --lite-mode), three walks per register made up most of its cost.
 */
export class ActiveDevices<Entry extends string> implements Iterable<[number, ActiveDevice<Entry>]> {
  private readonly byId = new Map<number, ActiveDevice<Entry>>();
  // Indexes hold one id as a plain number and a Set only when several devices share a key: a Set per device
  // would cost ~6 MiB at 10,000 devices. Their keys are strings the records already hold.
  /** Kernel entry key → the devices that hold it. */
  private readonly holders = new Map<string, Ids>();
  /** Per source, address → the devices of that source that have the address. */
  private readonly withAddress: Record<Device['source'], Map<string, Ids>> = { local: new Map(), portal: new Map() };
  /** The earliest deadline; undefined when it must be looked for again. */
  private earliest: number | undefined = Infinity;

  get size(): number { return this.byId.size; }
  get(id: number): ActiveDevice<Entry> | undefined { return this.byId.get(id); }
  has(id: number): boolean { return this.byId.has(id); }
  values(): IterableIterator<ActiveDevice<Entry>> { return this.byId.values(); }
  [Symbol.iterator](): IterableIterator<[number, ActiveDevice<Entry>]> { return this.byId.entries(); }

  set(id: number, record: ActiveDevice<Entry>): void {
    const old = this.byId.get(id);
    if (old) this.unindex(id, old);
    this.byId.set(id, record);
    for (const net of record.nets) add(this.holders, net, id);
    for (const address of record.device.addresses) add(this.withAddress[record.device.source], address, id);
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
  holdersOf(key: Entry): Iterable<number> {
    return idsOf(this.holders.get(key));
  }

  /** The active devices that have `address` among their addresses: of one source, or of any. */
  idsWithAddress(address: string, source?: Device['source']): number[] {
    if (source !== undefined) return [...idsOf(this.withAddress[source].get(address))];
    return SOURCES.flatMap(s => [...idsOf(this.withAddress[s].get(address))]);
  }

  earliestDeadline(): number {
    if (this.earliest === undefined) {
      let next = Infinity;
      for (const { deadline } of this.byId.values()) next = Math.min(next, deadline);
      this.earliest = next;
    }
    return this.earliest;
  }

  private unindex(id: number, record: ActiveDevice<Entry>): void {
    for (const net of record.nets) remove(this.holders, net, id);
    for (const address of record.device.addresses) remove(this.withAddress[record.device.source], address, id);
  }
}

type Ids = number | Set<number>;

const SOURCES: ReadonlyArray<Device['source']> = ['local', 'portal'];

function idsOf(ids: Ids | undefined): Iterable<number> {
  return ids === undefined ? [] : typeof ids === 'number' ? [ids] : ids;
}

function add(index: Map<string, Ids>, key: string, id: number): void {
  const ids = index.get(key);
  if (ids === undefined || ids === id) index.set(key, id);
  else if (typeof ids === 'number') index.set(key, new Set([ids, id]));
  else ids.add(id);
}

function remove(index: Map<string, Ids>, key: string, id: number): void {
  const ids = index.get(key);
  if (ids === undefined) return;
  if (typeof ids === 'number') {
    if (ids === id) index.delete(key);
    return;
  }
  ids.delete(id);
  if (ids.size === 1) index.set(key, ids.values().next().value as number);
}
