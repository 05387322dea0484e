// Everything the engine asks of the kernel, for both families at once: the four sets, the chain, entries with
// their timeouts, flow cuts, and a health check. A stub of this interface tests the engine without a kernel.
import { Family, KernelEntry, KernelError, NetlinkHandle } from './native';
import { IpsetManager, hashsizeFor, BatchFailure } from './ipset';
import { Firewall, FirewallError, FirewallPlan } from './firewall';
import { CommandRunner } from './command';
import { FlowCutter, flowCutter } from './conntrack';
import { LanNetwork } from './lan';

export interface AllowEntry {
  family: Family;
  bytes: Uint8Array;
  prefix: number;
  /** Seconds, 1..2147483: the kernel drops the entry by itself when it ends. */
  timeout: number;
}

export interface Health {
  ok: boolean;
  problems: string[];
  /** Entries in the allow sets now, per family. */
  allowed: Record<Family, number>;
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
  check(plan: FirewallPlan): Promise<Health>;
}

export interface EnforcerNames {
  chain: string;
  allow: Record<Family, string>;
  lan: Record<Family, string>;
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
    if (err.code === 93 /* EPROTONOSUPPORT */) return 'the kernel has no ipset support: load the ip_set module';
    if (err.code === 4098 /* IPSET_ERR_FIND_TYPE */) return 'the kernel lacks the hash:net set type: load ip_set_hash_net';
    if (err.code === 1 /* EPERM */) return 'not permitted to change the firewall: run as root (CAP_NET_ADMIN)';
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
    nl: NetlinkHandle,
    strerror: (code: number) => string,
    run: CommandRunner,
    private readonly names: EnforcerNames,
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
    let cut = 0;
    const failed: BatchFailure[] = [];
    for (const [family, items] of this.byFamily(entries)) {
      if (!items.length) continue;
      const result = this.sets.apply(this.names.allow[family], items.map(({ entry }) => ({ op: 'del', ...entry, timeout: 0 })));
      const refused = new Set(result.failed.map(f => f.index));
      for (const f of result.failed) failed.push({ ...f, index: items[f.index].index });
      items.forEach(({ entry }, i) => {
        // conntrack matches exact sources; a prefix entry's flows end when their packets next meet the chain.
        if (!refused.has(i) && entry.prefix === (family === 4 ? 32 : 128)) cut += this.flows.cut(family, entry.bytes);
      });
    }
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

  async check(plan: FirewallPlan): Promise<Health> {
    const problems: string[] = [];
    const allowed: Record<Family, number> = { 4: 0, 6: 0 };
    for (const f of FAMILIES) {
      for (const name of [this.names.allow[f], this.names.lan[f]]) {
        const info = this.sets.info(name);
        if (!info) problems.push(`set ${name} is missing`);
        else if (name === this.names.allow[f]) {
          // Kernels before 4.? do not report a count; list then.
          allowed[f] = info.elements || (info.memsize ? this.sets.list(name).length : 0);
        }
      }
      problems.push(...(await this.firewall.verify(f, plan)).problems);
    }
    return { ok: problems.length === 0, problems, allowed };
  }
}
