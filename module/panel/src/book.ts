// The trusted list as the panel holds it: one entry per address (and source), the registration in force (or
// the latest one) with the earlier ones as its history, kept sorted as events arrive so that a live event costs
// a binary search, not a sort of the whole list.
import type { Device } from './api';
import { listRank } from '../../domain';

export interface Entry {
  key: string;
  /** The active registration, or the newest one when none is active. */
  current: Device;
  /** Every registration of this address from this source, newest first (current included). */
  registrations: Device[];
  /** Lower-case text that search looks in. */
  hay: string;
  /** Bumped on every change; a row built for an older revision is built again. */
  rev: number;
  sortRank: number;
  sortKey: number;
}

export type StateFilter = 'active' | 'ended' | 'all';
export type SourceFilter = 'all' | 'portal' | 'local';

export function keyOf(d: Device): string {
  return `${d.source}|${d.address}`;
}

/** First 64 bits of a canonical IPv6 text as four lower-case hex groups ("2001:db8:1:2"), or null. */
export function v6Prefix64(text: string): string | null {
  if (!text.includes(':')) return null;
  const addr = text.split('/')[0].toLowerCase();
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, null];
  const h = head ? head.split(':') : [];
  const t = tail === null ? [] : tail ? tail.split(':') : [];
  if (t.some(g => g.includes('.')) || h.some(g => g.includes('.'))) return null;
  const groups = tail === null ? h : [...h, ...Array(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  if (groups.length !== 8) return null;
  return groups.slice(0, 4).map(g => parseInt(g, 16).toString(16)).join(':');
}

/** The list's order (domain/order.ts), per entry. */
function before(a: Entry, b: Entry): boolean {
  if (a.sortRank !== b.sortRank) return a.sortRank < b.sortRank;
  if (a.sortKey !== b.sortKey) return a.sortKey < b.sortKey;
  return a.current.id > b.current.id;
}

export class DeviceBook {
  private readonly entries = new Map<string, Entry>();
  /** Entries in display order. */
  private order: Entry[] = [];
  /** address → entry keys holding it; IPv6 /64 → entry keys (for "this is you" under the /64 scope). */
  private readonly byAddress = new Map<string, Set<string>>();
  private readonly byNet64 = new Map<string, Set<string>>();
  activeCount = 0;
  /** Bumped on every change, so views know when to filter again. */
  version = 0;

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  load(devices: readonly Device[]): void {
    this.entries.clear();
    this.byAddress.clear();
    this.byNet64.clear();
    this.activeCount = 0;
    const groups = new Map<string, Device[]>();
    for (const d of devices) {
      const k = keyOf(d);
      const g = groups.get(k);
      if (g) g.push(d);
      else groups.set(k, [d]);
    }
    for (const [key, regs] of groups) {
      regs.sort((a, b) => b.id - a.id);
      const e = this.make(key, regs);
      this.entries.set(key, e);
      this.index(e, true);
      if (e.current.state === 'active') this.activeCount++;
    }
    this.order = [...this.entries.values()].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
    this.version++;
  }

  /** One registration changed or appeared (a live event, or the answer to an action). */
  put(d: Device): Entry {
    const key = keyOf(d);
    let e = this.entries.get(key);
    if (e) {
      const stale = e.registrations.find(x => x.id === d.id);
      // Events can arrive after the answer to the same action: an ended registration never becomes active again.
      if (stale && stale.state !== 'active' && d.state === 'active') return e;
      this.remove(e);
      this.index(e, false);
      if (e.current.state === 'active') this.activeCount--;
      const regs = e.registrations.filter(x => x.id !== d.id);
      regs.push(d);
      regs.sort((a, b) => b.id - a.id);
      const rev = e.rev + 1;
      e = this.make(key, regs);
      e.rev = rev;
    } else {
      e = this.make(key, [d]);
    }
    this.entries.set(key, e);
    this.index(e, true);
    if (e.current.state === 'active') this.activeCount++;
    this.insert(e);
    this.version++;
    return e;
  }

  /** Entries whose current registration holds `address`, or (ipv6Net) lies in its /64. */
  holding(address: string, ipv6Net: boolean): Entry[] {
    const keys = new Set(this.byAddress.get(address) ?? []);
    const p = ipv6Net ? v6Prefix64(address) : null;
    if (p) for (const k of this.byNet64.get(p) ?? []) keys.add(k);
    return [...keys].map(k => this.entries.get(k)!).filter(Boolean);
  }

  view(state: StateFilter, source: SourceFilter, query: string): Entry[] {
    const q = query.trim().toLowerCase();
    const out: Entry[] = [];
    for (const e of this.order) {
      const active = e.current.state === 'active';
      if (state === 'active' ? !active : state === 'ended' ? active : false) continue;
      if (source !== 'all' && e.current.source !== source) continue;
      if (q && !e.hay.includes(q)) continue;
      out.push(e);
    }
    return out;
  }

  private make(key: string, regs: Device[]): Entry {
    const current = regs.find(x => x.state === 'active') ?? regs[0];
    const [sortRank, sortKey] = listRank(current);
    const hay = `${current.addresses.join(' ')} ${current.label} ${current.qnapId ?? ''}`.toLowerCase();
    return { key, current, registrations: regs, hay, rev: 0, sortRank, sortKey };
  }

  private index(e: Entry, add: boolean): void {
    for (const a of e.current.addresses) {
      bucket(this.byAddress, a, e.key, add);
      const p = v6Prefix64(a);
      if (p) bucket(this.byNet64, p, e.key, add);
    }
  }

  private position(e: Entry): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.order[mid], e)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private insert(e: Entry): void {
    this.order.splice(this.position(e), 0, e);
  }

  private remove(e: Entry): void {
    let i = this.position(e);
    if (this.order[i] !== e) i = this.order.indexOf(e);
    if (i >= 0) this.order.splice(i, 1);
  }
}

function bucket(map: Map<string, Set<string>>, k: string, v: string, add: boolean): void {
  let s = map.get(k);
  if (add) {
    if (!s) map.set(k, (s = new Set()));
    s.add(v);
  } else if (s) {
    s.delete(v);
    if (!s.size) map.delete(k);
  }
}
