// Everything the engine asks of the kernel, for both families at once: the four sets, the chain, entries with
// their timeouts, flow cuts, and a health check. A stub of this interface tests the engine without a kernel.
import { EntryVisitor, Family, KernelEntry, KernelError, NetlinkHandle, SetDiff, SetMember } from './native';
import { formatAddress } from '../domain';
import { entryFamily, entryPrefix, heldIn, packEntry, unpackEntry, type PackedEntry } from './packed-entry';
import type { KernelNames } from '../config';
import { IpsetManager, hashsizeFor, BatchFailure } from './ipset';
import { Firewall, FirewallError, FirewallPlan } from './firewall';
import { CommandRunner } from './command';
import { FlowCutter, flowCutter } from './conntrack';
import { LanNetwork } from './lan';

export interface AllowEntry {
  family: Family;
  bytes: Uint8Array;
  prefix: number;
  /** Seconds, 1..2147483: the kernel drops the entry by itself when it ends; PERMANENT_TIMEOUT: it never does. */
  timeout: number;
}

/** An address as the sets hold it, without a timeout. */
export type KernelAddress = Omit<AllowEntry, 'timeout'>;

/** What the sets should hold, for check() to compare them with. */
export interface Wanted {
  /**
   * Hands every active device's entry to `visit` with the timeout it should have now (0: it is ending, present
   * or not; PERMANENT_TIMEOUT: present without one). A visitor rather than a list: the engine has 10,000 of them and needs no copy each check.
   */
  allowed: (visit: (entry: PackedEntry, timeout: number) => void) => void;
  /** How many entries `allowed` visits, at most. */
  allowedCount: number;
  /** The LAN networks (the link-local ones are added here, as setLan adds them). */
  lan: readonly LanNetwork[];
}

/** A Wanted made from lists. */
export function wantedOf(allowed: ReadonlyArray<KernelAddress & { timeout: number }>, lan: readonly LanNetwork[]): Wanted {
  const packed = allowed.map(a => [packEntry(a), a.timeout] as const);
  return { allowed: visit => packed.forEach(([entry, timeout]) => visit(entry, timeout)), allowedCount: allowed.length, lan };
}

export interface Health {
  ok: boolean;
  problems: string[];
  /** Entries in the allow sets now, per family. */
  allowed: Record<Family, number>;
  /** A set is missing, or a chain, a jump or a rule is not as installed: only a full install repairs it. */
  damaged: boolean;
  /** How the sets' members differ from what is wanted (empty when check() was not told what is wanted). */
  members: MemberDiff;
}

export interface MemberDiff {
  /** In an allow set and not wanted there: to delete, with the source's open flows. */
  extra: KernelAddress[];
  /** Wanted and not in an allow set, or there with a timeout that is not its own: to add (again). */
  missing: AllowEntry[];
  /** A LAN set holds other networks than the LAN's: to load again. */
  lanDiffers: boolean;
  /** Single addresses in a LAN set that are neither in the LAN nor allowed: their open flows are to be cut. */
  lanIntruders: KernelAddress[];
}

export interface Enforcement {
  install(plan: FirewallPlan, maxEntries: number): Promise<void>;
  remove(plan: FirewallPlan): Promise<void>;
  /** Adds (or renews) entries; returns the ones the kernel refused, by index into `entries`. */
  allow(entries: readonly AllowEntry[]): BatchFailure[];
  /**
   * Deletes entries and cuts the open flows of those it deleted. Entries the kernel would not delete are
   * returned (their flows are left: a device could reconnect while its entry stays).
   */
  disallow(entries: ReadonlyArray<Omit<AllowEntry, 'timeout'>>): { cut: number; failed: BatchFailure[] };
  /** Replaces both allow sets atomically with exactly these entries. */
  replaceAllowed(entries: readonly AllowEntry[], maxEntries: number): BatchFailure[];
  /** Replaces the LAN sets (plus the link-local networks, always exempt). */
  setLan(networks: readonly LanNetwork[]): void;
  listAllowed(): Array<{ family: Family; bytes: Uint8Array; prefix: number; timeout: number }>;
  /** Whether our sets are in the kernel: it was enforcing before this process started (a restart, not a reboot). */
  installed(): boolean;
  /**
   * Compares the kernel with the plan: the sets exist, the chains, jumps and rules are as installed, and, when
   * told what is wanted, every member of the allow and LAN sets (a full listing of each).
   */
  check(plan: FirewallPlan, wanted?: Wanted): Promise<Health>;
  /**
   * Cheap (no program run, no set listed): a text that changes when a rule, chain or jump of either filter
   * table changes, a set is created or destroyed, a LAN set's contents change or an allow set is emptied.
   */
  fingerprint(): string;
}


const LAN_MAX = 4096;
const FAMILIES: Family[] = [4, 6];
const LINK_LOCAL: Record<Family, { bytes: Uint8Array; prefix: number }> = {
  4: { bytes: Uint8Array.from([169, 254, 0, 0]), prefix: 16 },
  6: { bytes: Uint8Array.from([0xfe, 0x80, ...new Array(14).fill(0)]), prefix: 10 },
};

/** A sentence naming what the kernel lacks, for a refusal to enable. */
export function explainKernelFailure(err: unknown): string | null {
  if (err instanceof KernelError) {
    if (err.is('EPROTONOSUPPORT')) return 'the kernel has no ipset support: load the ip_set module';
    if (err.is('IPSET_ERR_FIND_TYPE')) return 'the kernel lacks the hash:net set type: load ip_set_hash_net';
    if (err.is('EPERM')) return 'not permitted to change the firewall: run as root (CAP_NET_ADMIN)';
  }
  if (err instanceof FirewallError) {
    if (/match `?set'?|xt_set|set.*(not found|No such)/i.test(err.stderr)) return 'the kernel lacks the ipset match for iptables: load xt_set';
    if (/conntrack/i.test(err.stderr)) return 'the kernel lacks connection tracking for iptables (xt_conntrack)';
    if (/ENOENT|not found|No such file/i.test(err.message)) return 'iptables-restore (legacy) is not installed';
  }
  return null;
}

export class Enforcer implements Enforcement {
  private readonly sets: IpsetManager;
  private readonly firewall: Firewall;
  private readonly flows: FlowCutter;

  constructor(
    private readonly nl: NetlinkHandle,
    strerror: (code: number) => string,
    run: CommandRunner,
    private readonly names: KernelNames,
  ) {
    this.sets = new IpsetManager(nl, strerror);
    this.firewall = new Firewall(run);
    this.flows = flowCutter(nl);
  }

  private allowSpec(family: Family, maxEntries: number) {
    return { name: this.names.allow[family], family, hashsize: hashsizeFor(maxEntries), maxelem: maxEntries, timeout: true };
  }

  private lanSpec(family: Family) {
    return { name: this.names.lan[family], family, hashsize: 1024, maxelem: LAN_MAX, timeout: false };
  }

  async install(plan: FirewallPlan, maxEntries: number): Promise<void> {
    // Sets first: the rules refer to them by name.
    for (const f of FAMILIES) {
      this.sets.ensure(this.allowSpec(f, maxEntries));
      this.sets.ensure(this.lanSpec(f));
    }
    for (const f of FAMILIES) await this.firewall.install(f, plan);
  }

  async remove(plan: FirewallPlan): Promise<void> {
    for (const f of FAMILIES) await this.firewall.remove(f, plan);
    for (const f of FAMILIES) {
      this.sets.destroy(this.names.allow[f]);
      this.sets.destroy(this.names.lan[f]);
    }
  }

  private byFamily<T extends { family: Family }>(entries: readonly T[]): Map<Family, Array<{ entry: T; index: number }>> {
    const out = new Map<Family, Array<{ entry: T; index: number }>>([[4, []], [6, []]]);
    entries.forEach((entry, index) => out.get(entry.family)!.push({ entry, index }));
    return out;
  }

  allow(entries: readonly AllowEntry[]): BatchFailure[] {
    const failures: BatchFailure[] = [];
    for (const [family, items] of this.byFamily(entries)) {
      if (!items.length) continue;
      const batch: KernelEntry[] = items.map(({ entry }) => ({ op: 'add', ...entry }));
      for (const f of this.sets.apply(this.names.allow[family], batch).failed) {
        failures.push({ ...f, index: items[f.index].index });
      }
    }
    return failures;
  }

  disallow(entries: ReadonlyArray<Omit<AllowEntry, 'timeout'>>): { cut: number; failed: BatchFailure[] } {
    const failed: BatchFailure[] = [];
    const deleted = new Map<Family, Array<Omit<AllowEntry, 'timeout'>>>();
    // Every entry leaves the sets before any flow is cut: the chains refuse them from then on, and the cut (a
    // dump of the conntrack table per family) is cleanup.
    for (const [family, items] of this.byFamily(entries)) {
      if (!items.length) continue;
      const result = this.sets.apply(this.names.allow[family], items.map(({ entry }) => ({ op: 'del', ...entry, timeout: 0 })));
      const refused = new Set(result.failed.map(f => f.index));
      for (const f of result.failed) failed.push({ ...f, index: items[f.index].index });
      deleted.set(family, items.filter((_, i) => !refused.has(i)).map(({ entry }) => entry));
    }
    let cut = 0;
    for (const [family, nets] of deleted) cut += this.flows.cut(family, nets);
    return { cut, failed };
  }

  replaceAllowed(entries: readonly AllowEntry[], maxEntries: number): BatchFailure[] {
    const failures: BatchFailure[] = [];
    for (const [family, items] of this.byFamily(entries)) {
      const batch: KernelEntry[] = items.map(({ entry }) => ({ op: 'add', ...entry }));
      for (const f of this.sets.replace(this.allowSpec(family, maxEntries), batch).failed) {
        failures.push({ ...f, index: items[f.index].index });
      }
    }
    return failures;
  }

  setLan(networks: readonly LanNetwork[]): void {
    for (const family of FAMILIES) {
      const entries: KernelEntry[] = [LINK_LOCAL[family], ...networks.filter(n => n.family === family)]
        .map(n => ({ op: 'add', family, bytes: n.bytes, prefix: n.prefix, timeout: 0 }));
      this.sets.replace(this.lanSpec(family), entries);
    }
  }

  listAllowed() {
    return FAMILIES.flatMap(f => (this.sets.exists(this.names.allow[f]) ? this.sets.list(this.names.allow[f]) : []));
  }

  installed(): boolean {
    return FAMILIES.some(f => this.sets.exists(this.names.allow[f]) || this.sets.exists(this.names.lan[f]));
  }

  /** Per family, the filter table's digest when its rules were last read and found intact, and when. */
  private readonly rulesIntact: Record<Family, { digest: string; at: number } | null> = { 4: null, 6: null };

  /**
   * The rule text is read (iptables-save, a program run) only when the table's digest moved since the rules
   * were last found intact, or a minute has passed: an unchanged digest means unchanged rules.
   */
  private async verifyRules(f: Family, plan: FirewallPlan): Promise<{ ok: boolean; problems: string[] }> {
    let digest: string | null = null;
    try {
      digest = this.nl.filterDigest(f);
    } catch {
      // no digest to rely on: read the rules
    }
    const last = this.rulesIntact[f];
    const now = performance.now();
    if (digest !== null && last && last.digest === digest && now - last.at < RULES_REREAD_MS) return { ok: true, problems: [] };
    const rules = await this.firewall.verify(f, plan);
    this.rulesIntact[f] = rules.ok && digest !== null ? { digest, at: now } : null;
    return rules;
  }

  async check(plan: FirewallPlan, wanted?: Wanted): Promise<Health> {
    const problems: string[] = [];
    const allowed: Record<Family, number> = { 4: 0, 6: 0 };
    const members: MemberDiff = { extra: [], missing: [], lanDiffers: false, lanIntruders: [] };
    let damaged = false;
    for (const f of FAMILIES) {
      const allowName = this.names.allow[f];
      const lanName = this.names.lan[f];
      const allowInfo = this.sets.info(allowName);
      const lanInfo = this.sets.info(lanName);
      for (const [name, info] of [[allowName, allowInfo], [lanName, lanInfo]] as const) {
        if (!info) problems.push(`set ${name} is missing`);
      }
      const rules = await this.verifyRules(f, plan);
      problems.push(...rules.problems);
      damaged ||= !allowInfo || !lanInfo || !rules.ok;
      if (allowInfo && wanted) {
        const each: EntryVisitor = put => wanted.allowed((entry, timeout) => {
          if (entryFamily(entry) === f) put(entry, timeout);
        });
        const diff = this.nl.setDiff(allowName, wanted.allowedCount, each, TIMEOUT_SLACK);
        allowed[f] = diff.members;
        problems.push(...compareAllowed(f, diff, each, members));
      } else if (allowInfo) {
        // Kernels before 4.10 do not report a count (qpkg/platform.md); list then.
        allowed[f] = allowInfo.elements || (allowInfo.memsize ? this.sets.list(allowName).length : 0);
      }
      if (lanInfo && wanted) {
        const lan = [{ family: f, ...LINK_LOCAL[f] }, ...wanted.lan.filter(n => n.family === f)];
        problems.push(...compareLan(f, this.sets.list(lanName), lan, wanted.allowed, members));
      }
    }
    return { ok: problems.length === 0, problems, allowed, damaged, members };
  }

  fingerprint(): string {
    const parts: string[] = [];
    for (const f of FAMILIES) {
      try {
        parts.push(this.nl.filterDigest(f));
      } catch (err) {
        // No legacy filter table to read (or no raw socket): rule changes then wait for the next full check.
        parts.push(`no-digest:${err instanceof KernelError ? err.code : '?'}`);
      }
      const allow = this.sets.info(this.names.allow[f]);
      // Allow sets change by themselves (entries time out) and with every registration: only their presence,
      // and being emptied, are watched here; their members are compared by the full check.
      parts.push(allow ? (allow.elements === 0 ? 'allow:empty' : 'allow') : 'allow:missing');
      const lan = this.sets.info(this.names.lan[f]);
      parts.push(lan ? `lan:${lan.elements}:${lan.memsize}` : 'lan:missing');
    }
    return parts.join(' ');
  }
}

const SHOWN = 3;
const RULES_REREAD_MS = 60_000;
/** Seconds a kernel timeout may differ from the wanted one: the two clocks are read a moment apart and rounded. */
const TIMEOUT_SLACK = 2;

function fullPrefix(family: Family): number {
  return family === 4 ? 32 : 128;
}

function textOf(a: KernelAddress): string {
  return formatAddress(a.family, a.bytes, a.prefix);
}

function counted(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** "203.0.113.11, 203.0.113.12 and 4 more" */
function listed(items: KernelAddress[]): string {
  const shown = items.slice(0, SHOWN).map(textOf).join(', ');
  return items.length > SHOWN ? `${shown} and ${items.length - SHOWN} more` : shown;
}


/** The allow set's differences as problems; the entries to add again and the members to take out into `out`. */
function compareAllowed(family: Family, diff: SetDiff, each: EntryVisitor, out: MemberDiff): string[] {
  const extra: KernelAddress[] = diff.extra.map(m => ({ family: m.family, bytes: m.bytes, prefix: m.prefix }));
  const missing: AllowEntry[] = [];
  const retimed: AllowEntry[] = [];
  if (diff.missing.length || diff.retimed.length) {
    const missingAt = new Set(diff.missing);
    const retimedAt = new Set(diff.retimed);
    let i = 0;
    each((entry, timeout) => {
      const at = i++;
      if (missingAt.has(at)) missing.push({ ...unpackEntry(entry), timeout });
      else if (retimedAt.has(at)) retimed.push({ ...unpackEntry(entry), timeout });
    });
  }
  out.extra.push(...extra);
  out.missing.push(...missing, ...retimed);
  const problems: string[] = [];
  if (extra.length) problems.push(`IPv${family} allow set holds ${counted(extra.length, 'entry', 'entries')} nobody registered: ${listed(extra)}`);
  if (missing.length) problems.push(`IPv${family} allow set lacks ${counted(missing.length, 'registered entry', 'registered entries')}: ${listed(missing)}`);
  if (retimed.length) problems.push(`IPv${family} allow set holds ${counted(retimed.length, 'entry', 'entries')} with a timeout not its own: ${listed(retimed)}`);
  return problems;
}

function compareLan(family: Family, inKernel: SetMember[], lan: KernelAddress[], allowed: Wanted['allowed'], out: MemberDiff): string[] {
  const lanEntries = lan.map(packEntry);
  const want = new Map(lan.map((n, i) => [lanEntries[i], n]));
  const extra: KernelAddress[] = [];
  for (const m of inKernel) {
    if (!want.delete(packEntry(m))) extra.push({ family: m.family, bytes: m.bytes, prefix: m.prefix });
  }
  const missing = [...want.values()];
  if (!extra.length && !missing.length) return [];
  out.lanDiffers = true;
  const hosts = new Map(extra.filter(a => a.prefix === fullPrefix(family) && !lanEntries.some(heldIn(a))).map(a => [packEntry(a), a]));
  // One test per host, made once: the visit below meets every allowed entry.
  const holdsHost = [...hosts].map(([k, h]) => [k, heldIn(h)] as const);
  // A host that is registered (itself, or inside a registered network) keeps its flows: they are allowed anyway.
  if (hosts.size) allowed(entry => {
    if (entryFamily(entry) !== family) return;
    if (entryPrefix(entry) === fullPrefix(family)) hosts.delete(entry);
    else for (const [k, holds] of holdsHost) if (holds(entry)) hosts.delete(k);
  });
  out.lanIntruders.push(...hosts.values());
  const problems: string[] = [];
  if (extra.length) problems.push(`IPv${family} LAN set holds ${counted(extra.length, 'entry', 'entries')} not of the LAN: ${listed(extra)}`);
  if (missing.length) problems.push(`IPv${family} LAN set lacks ${counted(missing.length, 'LAN network', 'LAN networks')}: ${listed(missing)}`);
  return problems;
}
