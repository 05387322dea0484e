// The use cases: enable, disable, register, revoke, session end and renewal, expiry booking, restore at start,
// and the repair the reconciler asks for. Store first (durable), then the kernel; the kernel's own timeouts
// end access even when this process is gone, the engine only books what happened.
//
// THE RULE: while Secure IP Access is on, only `disable` (and uninstall, which runs without us) ends
// enforcement. Nothing else may: not a damaged store or an unreadable row, not a full partition, not a kernel
// error, not a bad config, not a restart. Whatever fails, fail towards enforcing: the on/off state has its own
// file (store/switch.ts) read before anything else; when that cannot be read, enforce; start enforces before it
// books anything; a write that cannot be made is retried later and never undoes what the kernel holds.
import {
  parseDeviceAddress, parseNetwork, formatAddress, IpNetwork, checkExpiry, expiresAtFor, kernelTimeoutSeconds, clockTrust,
  remainingAfterRestore, SYSTEM, firstInListOrder, UNSHOWABLE,
} from '../domain';
import { Store, type Recovered, type SwitchReading, type UnreadableRow } from '../store';
import {
  Enforcement, AllowEntry, explainKernelFailure, FirewallPlan, LanNetwork, PERMANENT_TIMEOUT, packEntry, unpackEntry, heldIn,
  type PackedEntry,
} from '../kernel';
import { Actor, AuditEntry, Device, EngineApi, EngineEvents, ExpiryRequest, RegisterRequest, Status } from './contract';
import { Config, kernelNames, restartRequiredChanges } from '../config';
import { ActiveDevices } from './active';
import { EventBus } from './events';
import { Logger } from './log';
import { SystemLog } from './system-log';

export type EngineErrorCode = 'not_found' | 'conflict' | 'bad_label' | 'bad_reason' | 'bad_qnap_id' | 'capacity' | 'kernel_unsupported' | 'kernel_failed' | 'storage_full' | 'bad_batch';

/** One refused item of a batch: its position, the field at fault and why. */
export interface BatchItemError {
  item: number;
  field: string | null;
  message: string;
}

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(readonly code: EngineErrorCode, message: string, readonly field: string | null = null, readonly items: BatchItemError[] = []) {
    super(message);
  }
}

/** A batch is refused whole when one item is bad; the message names the first few. */
export const BATCH_MAX = 65_536;


/** The on/off record that outlives the store (store/switch.ts). */
export interface EnforcementSwitch {
  read(): SwitchReading;
  write(enforce: boolean, by: string, at: number): void;
}

export interface EngineDeps {
  store: Store;
  switch: EnforcementSwitch;
  /** The NAS's event log (QuLog Center); defaults to the daemon's log. */
  systemLog?: SystemLog;
  /** Why the real store could not be opened, when the daemon runs on a temporary one instead. */
  storeUnavailable?: string | null;
  kernel: Enforcement;
  config: Config;
  log: Logger;
  version: string;
  /** When this build was made: no trustworthy clock is earlier. */
  buildTimeMs: number;
  /** Networks learned from the interfaces (config firewall.lan = "auto"). */
  learnedLan?: () => LanNetwork[];
  portalStatus?: () => Status['portal'];
  /** The runtime and its end of life (Status.runtime), asked at each status. */
  runtime?: () => NonNullable<Status['runtime']>;
  now?: () => number;
  /** Monotonic milliseconds: deadlines do not move when the wall clock jumps. */
  mono?: () => number;
}

const LABEL_MAX = 64;
const BOOKING_RETRY_FIRST_MS = 1000;
const BOOKING_RETRY_MAX_MS = 60_000;
/** A repair that does not hold (the next check finds the same) is audited and announced again after this long. */
const UNHEALED_REPORT_MS = 10 * 60_000;

type KernelAddress = Pick<IpNetwork, 'family' | 'bytes' | 'prefix'>;

/**
 * The kernel entries of a device: one per address (stored canonical), an IPv6 host widened to its /64 when
 * policy.ipv6Scope is 'network'. Throws on text that does not parse or would open too much (a /0).
 */
function entriesOf(addresses: readonly string[], ipv6Scope: 'address' | 'network'): PackedEntry[] {
  const out = new Set<PackedEntry>();
  for (const text of addresses) {
    const n = parseNetwork(text);
    const prefix = n.family === 6 && ipv6Scope === 'network' && n.prefix > 64 ? 64 : n.prefix;
    out.add(packEntry({ family: n.family, bytes: n.bytes, prefix }));
  }
  return [...out];
}

/**
 * The kernel timeout of an entry wanted until `deadline` (monotonic ms): none (null) once it has passed, a
 * permanent entry for a registration until revoked (deadline Infinity).
 */
function kernelTimeout(deadline: number, mono: number): number | null {
  return deadline === Infinity ? PERMANENT_TIMEOUT : kernelTimeoutSeconds(deadline - mono);
}

/** The monotonic deadline of an expiry (UTC ms, null: until revoked) seen at wall time `now`, mono time `mono`. */
function deadlineOf(expiresAt: number | null, now: number, mono: number): number {
  return expiresAt === null ? Infinity : mono + (expiresAt - now);
}

export class Engine implements EngineApi {
  private readonly events: EventBus;
  private readonly now: () => number;
  private readonly mono: () => number;
  private plan: FirewallPlan;
  /** Active devices, the monotonic time each one's access ends (Infinity: until revoked), and its kernel entries. */
  private readonly active = new ActiveDevices<PackedEntry>();
  private enabled = false;
  private enforcing = false;
  private clockTrusted = true;
  private clockNote: string | null = null;
  private storeRecovered: string | null = null;
  /** Device rows set aside at start because they could not be read. */
  private quarantined = 0;
  /** Ends the store could not record yet: retried on a timer that backs off, never in a tight loop. */
  private unbooked: Array<{ ids: number[]; to: 'revoked' | 'expired'; reason: string; by: Actor; at: number }> = [];
  private bookingTimer: NodeJS.Timeout | null = null;
  private bookingDelayMs = BOOKING_RETRY_FIRST_MS;
  private expiryTimer: NodeJS.Timeout | null = null;
  private serial: Promise<unknown> = Promise.resolve();
  /** Ended devices whose kernel entry could not be deleted: the reconciler removes them and cuts their flows. */
  private pendingCuts: KernelAddress[] = [];
  /**
   * The last repair, while every check since has found the same problems: a kernel that keeps refusing would
   * otherwise write an audit row (an fsync on the flash) and announce it to open panels at every full check.
   */
  private unhealed: { what: string; reportedAt: number; repeats: number } | null = null;
  private stopped = false;

  private readonly systemLog: SystemLog;

  constructor(private deps: EngineDeps) {
    this.events = new EventBus(deps.log);
    this.systemLog = deps.systemLog ?? ((level, message) => deps.log(level, message, { systemLog: true }));
    this.now = deps.now ?? Date.now;
    this.mono = deps.mono ?? (() => performance.now());
    this.plan = { names: kernelNames(deps.config), protect: deps.config.firewall.protect, action: deps.config.firewall.action };
  }

  /** One change at a time, so that the store and the kernel see changes in the same order. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn, fn);
    this.serial = run.catch(() => undefined);
    return run;
  }

  on<K extends keyof EngineEvents>(event: K, listener: (payload: EngineEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  // ---- start and stop ----

  /**
   * Loads state and brings the kernel in line with it. `recovered`: the store was damaged and replaced.
   * Enforcement comes first; what has to be written (expiries booked while stopped, quarantined rows, recovered
   * entries) comes after it, and a write that fails is retried later instead of failing the start.
   */
  start(recovered: Recovered | null = null): Promise<void> {
    return this.exclusive(async () => {
      const { store, log } = this.deps;
      const now = this.now();
      const lastSeen = await store.lastSeenWallClock().catch(() => null);
      const trust = clockTrust({ nowMs: now, lastSeenMs: lastSeen, buildTimeMs: this.deps.buildTimeMs });
      this.clockTrusted = trust.trusted;
      if (!trust.trusted) log('warn', 'wall clock not trusted', { reason: trust.reason });
      let inKernel: Map<PackedEntry, number>;
      try {
        inKernel = this.kernelTimeouts();
      } catch {
        inKernel = new Map();
      }
      this.enabled = await this.decideEnabled(recovered);
      // Close the NAS before reading 65,536 stored devices (a second or more on a NAS): after a reboot the allow
      // sets start empty and fill when the devices are loaded; after a restart they keep what the kernel holds.
      const rulesInPlace = this.enabled && await this.installRules().then(() => true, () => false);
      if (recovered) await this.recoverFromKernel(recovered, inKernel);
      if (this.deps.storeUnavailable) {
        this.storeRecovered = `the store could not be opened (${this.deps.storeUnavailable}); running on a temporary store in RAM, so changes are lost at the next restart`;
        this.systemLog('error', this.storeRecovered);
      }
      const toEnd: number[] = [];
      const unreadable: UnreadableRow[] = [];
      for await (const page of store.activeDevicesInPages(2000)) {
        unreadable.push(...page.unreadable);
        for (const device of page.devices) {
          let nets: PackedEntry[];
          try {
            nets = this.entriesOf(device);
          } catch (err) {
            // An address a hand edit made unreadable (or one that would open too much, like a /0) is not trusted.
            unreadable.push({ rowId: device.id, reason: `store: devices row ${device.id}: ${(err as Error).message}`, row: { ...device } });
            continue;
          }
          const kernelLeft = Math.max(0, ...nets.map(n => inKernel.get(n) ?? 0));
          // A live kernel entry runs on the monotonic clock, across our restarts; without one (after a reboot)
          // only a trusted wall clock can tell what is left. An entry may be shared (a local and a portal
          // registration, a /64): a trusted clock keeps this device to its own expiry, never the longer one.
          const wall = remainingAfterRestore(device, now, trust.trusted);
          // One until revoked (wall: Infinity) stays so, whatever timed entry it shares with another device.
          const remaining = wall === Infinity ? wall : kernelLeft > 0 ? (trust.trusted ? Math.min(kernelLeft * 1000, wall) : kernelLeft * 1000) : wall;
          if (remaining > 0) this.active.set(device.id, { device, deadline: this.mono() + remaining, nets });
          else toEnd.push(device.id);
        }
      }
      if (this.enabled) {
        // A kernel that refuses now (a module not loaded yet at boot) must not keep the service down: status and
        // doctor say it is not enforcing, and the reconciler tries again every few seconds.
        await this.enforce(rulesInPlace).catch(err => {
          log('error', 'cannot enforce yet; the reconciler retries', { error: (err as Error).message });
          this.systemLog('error', `cannot enforce yet (${(err as Error).message}); retrying`);
        });
      } else await this.deps.kernel.remove(this.plan).catch(err => log('warn', 'could not clear leftover rules', { error: String(err) }));
      if (unreadable.length) await this.quarantine(unreadable);
      if (toEnd.length) {
        this.book(toEnd, trust.trusted ? 'expired' : 'revoked', SYSTEM,
          trust.trusted ? 'expired while the service was stopped' : `revoked at start: ${trust.reason}`, now);
      }
      if (!trust.trusted) await this.resetClockTrust(trust.reason ?? 'not trusted', now);
      this.scheduleExpiry();
      log('info', 'engine started', { enabled: this.enabled, active: this.active.size, ended: toEnd.length, quarantined: unreadable.length, clockTrusted: trust.trusted });
    });
  }

  /**
   * On or off at start. The switch file decides; a damaged one, or none beside a store that was damaged, is a
   * doubt, and a doubt enforces. A store from before the switch file existed hands over its setting once.
   */
  private async decideEnabled(recovered: Recovered | null): Promise<boolean> {
    const { store, log } = this.deps;
    const reading = this.deps.switch.read();
    if (reading.state === 'on' || reading.state === 'off') return reading.state === 'on';
    let doubt: string | null = null;
    if (reading.state === 'damaged') doubt = reading.reason;
    else if (recovered || this.deps.storeUnavailable) doubt = 'the on/off record is missing and the store was damaged';
    else if (this.kernelWitness()) doubt = 'the on/off record is missing but the kernel still holds the rules';
    if (doubt) {
      log('error', 'on/off state unknown; enforcing', { reason: doubt });
      this.systemLog('error', `the on/off state could not be read (${doubt}); enforcing until an admin disables`);
      this.writeSwitch(true, SYSTEM);
      return true;
    }
    const legacy = (await store.getSetting<boolean>('enabled').catch(() => null)) === true;
    this.writeSwitch(legacy, SYSTEM);
    return legacy;
  }

  /** Our sets in the kernel: the NAS was enforcing before this start (a restart, not a reboot). */
  private kernelWitness(): boolean {
    try {
      return this.deps.kernel.listAllowed().length > 0 || this.deps.kernel.installed();
    } catch {
      return false;
    }
  }

  /** Writes the switch file; a failure is logged (the state in memory stays and the next change retries). */
  private writeSwitch(enforce: boolean, by: Actor): boolean {
    try {
      this.deps.switch.write(enforce, actorName(by), this.now());
      return true;
    } catch (err) {
      this.deps.log('error', 'cannot write the on/off record', { error: (err as Error).message });
      return false;
    }
  }

  private async quarantine(rows: UnreadableRow[]): Promise<void> {
    this.quarantined += rows.length;
    const detail = `${rows.length} unreadable device row(s) set aside: ${rows.map(r => r.reason).join('; ')}`;
    this.deps.log('error', 'unreadable device rows set aside', { rows: rows.map(r => ({ id: r.rowId, reason: r.reason })) });
    this.systemLog('warn', detail.slice(0, 300));
    await this.deps.store.quarantineDevices(rows, { actor: SYSTEM, action: 'quarantine' })
      .catch(err => this.deps.log('error', 'could not move unreadable rows to quarantine; they stay where they are and are not enforced', { error: String(err) }));
  }

  /**
   * After a start that could not trust the clock, every timed entry the kernel did not vouch for was ended:
   * nothing is left that a wrong clock could extend. This clock becomes the new reference, so a clock that is
   * right again is trusted at the next start instead of every start revoking everything for ever.
   */
  private async resetClockTrust(reason: string, now: number): Promise<void> {
    if (now < this.deps.buildTimeMs) {
      this.clockNote = `${reason}. Set the time (NTP) and restart the service; timed entries are revoked at each start until then.`;
      return;
    }
    try {
      await this.deps.store.resetWallClock(now, { actor: SYSTEM, action: 'clock-reset', detail: `clock not trusted at start (${reason}); timed entries ended; this clock is the reference from now on` });
      this.clockNote = `${reason}. Timed entries were ended at this start; the clock is the reference from now on, so the next start trusts it. If it is wrong, fix NTP and restart.`;
    } catch (err) {
      this.clockNote = `${reason}. The new reference could not be recorded (${(err as Error).message}).`;
    }
  }

  /** Stops timers. Enforcement stays in the kernel: the daemon's absence must not open the NAS. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (this.bookingTimer) clearTimeout(this.bookingTimer);
    this.bookingTimer = null;
    await this.serial;
  }

  private kernelTimeouts(): Map<PackedEntry, number> {
    const out = new Map<PackedEntry, number>();
    for (const m of this.deps.kernel.listAllowed()) out.set(packEntry(m), m.timeout);
    return out;
  }

  private async recoverFromKernel(recovered: Recovered, inKernel: Map<PackedEntry, number>): Promise<void> {
    const { store, log } = this.deps;
    let restored = 0;
    try {
      for (const [entry, timeout] of inKernel) {
        const { family, bytes, prefix } = unpackEntry(entry);
        const net = parseNetwork(formatAddress(family, bytes, prefix));
        // Timeout 0 in the allow set (which has timeouts): a permanent entry, which only a registration until
        // revoked puts there.
        const forever = timeout <= 0;
        await store.registerDevice(
          { address: net.text, family: net.family, prefix: net.prefix, label: 'recovered from the firewall',
            qnapId: null, source: 'local', policy: forever ? 'until-revoked' : 'fixed', sessionId: null, expiresAt: forever ? null : this.now() + timeout * 1000 },
          { actor: SYSTEM, action: 'recover', detail: forever ? 'kernel entry without a timeout: until revoked' : `kernel entry, ${timeout}s left` });
        restored++;
      }
    } catch (err) {
      log('error', 'could not record the entries recovered from the kernel', { error: String(err) });
    }
    this.storeRecovered = `the store was damaged (${recovered.reason}); it was moved to ${recovered.movedTo} and ${restored} active entries were recovered from the kernel`
      + (this.enabled ? '; enforcement stays on' : '');
    await store.appendAudit({ actor: SYSTEM, action: 'store-recovered', detail: this.storeRecovered }).catch(() => undefined);
    log('error', 'store recovered', { movedTo: recovered.movedTo, reason: recovered.reason, restored });
    this.systemLog('error', this.storeRecovered);
  }

  // ---- kernel state ----

  private lanNetworks(): LanNetwork[] {
    const fw = this.deps.config.firewall;
    const configured = [...(fw.lan === 'auto' ? [] : fw.lan), ...fw.extraLan].map(t => {
      const n = parseNetwork(t);
      return { family: n.family, bytes: n.bytes, prefix: n.prefix, text: n.text };
    });
    return [...(fw.lan === 'auto' ? this.deps.learnedLan?.() ?? [] : []), ...configured];
  }

  private entriesOf(device: Pick<Device, 'addresses'>): PackedEntry[] {
    return entriesOf(device.addresses, this.deps.config.policy.ipv6Scope);
  }

  /** For a device that was never loaded (its addresses were unreadable at start): whatever still parses. */
  private entriesOrNone(device: Pick<Device, 'addresses'>): PackedEntry[] {
    return device.addresses.flatMap(a => {
      try {
        return entriesOf([a], this.deps.config.policy.ipv6Scope);
      } catch {
        return [];
      }
    });
  }

  /**
   * One kernel entry per key: devices that share one (a local and a portal registration of an address, two
   * devices in one /64) share the longer deadline.
   */
  private desiredEntries(): AllowEntry[] {
    const mono = this.mono();
    const longest = new Map<PackedEntry, number>();
    for (const a of this.active.values()) {
      for (const net of a.nets) {
        const seen = longest.get(net);
        if (seen === undefined || a.deadline > seen) longest.set(net, a.deadline);
      }
    }
    const entries: AllowEntry[] = [];
    for (const [net, deadline] of longest) {
      const timeout = kernelTimeout(deadline, mono);
      if (timeout === null) continue;
      entries.push({ ...unpackEntry(net), timeout });
    }
    return entries;
  }

  /** For each kernel entry key, the latest deadline among active devices not in `exceptIds` that hold it. */
  private latestDeadlines(keys: ReadonlySet<PackedEntry>, exceptIds: ReadonlySet<number>): Map<PackedEntry, number> {
    const latest = new Map<PackedEntry, number>();
    for (const key of keys) {
      for (const id of this.active.holdersOf(key)) {
        if (exceptIds.has(id)) continue;
        const { deadline } = this.active.get(id)!;
        const seen = latest.get(key);
        if (seen === undefined || deadline > seen) latest.set(key, deadline);
      }
    }
    return latest;
  }

  /** Allow entries for `nets` until `deadline`, or longer where another active device holds the same entry. */
  private allowUntil(nets: readonly PackedEntry[], deadline: number, holderIds: ReadonlySet<number>): AllowEntry[] {
    const mono = this.mono();
    const others = this.latestDeadlines(new Set(nets), holderIds);
    return nets.map(n => ({ ...unpackEntry(n), timeout: kernelTimeout(Math.max(deadline, others.get(n) ?? 0), mono) ?? 1 }));
  }

  /**
   * Takes out of the kernel the entries that no active device holds any more (their flows are cut), and keeps
   * shared ones at the deadline of whoever still holds them. Call after the devices left `this.active`.
   */
  private release(nets: readonly PackedEntry[], what: Record<string, unknown>): void {
    if (!this.enabled || nets.length === 0) return;
    const unique = new Set(nets);
    const others = this.latestDeadlines(unique, new Set());
    const kept: AllowEntry[] = [];
    const gone: KernelAddress[] = [];
    for (const n of unique) {
      const other = others.get(n);
      const timeout = other === undefined ? null : kernelTimeout(other, this.mono());
      if (timeout !== null) kept.push({ ...unpackEntry(n), timeout });
      else gone.push(unpackEntry(n));
    }
    if (kept.length) {
      const failed = this.deps.kernel.allow(kept);
      if (failed.length) this.deps.log('error', 'kernel refused to shorten a shared entry; the reconciler retries', { reasons: failed.map(f => f.reason) });
    }
    if (!gone.length) return;
    // The store already says ended (durable); whatever the kernel does now, what it would not take out is
    // retried by the reconciler.
    try {
      const { cut, failed } = this.deps.kernel.disallow(gone);
      this.pendingCuts.push(...failed.map(f => gone[f.index]));
      this.deps.log(failed.length ? 'error' : 'info', 'kernel entries removed', {
        ...what, entries: gone.length, flowsCut: cut, ...(failed.length ? { kernelRefused: failed.map(f => f.reason) } : {}),
      });
    } catch (err) {
      this.pendingCuts.push(...gone);
      this.deps.log('error', 'kernel delete failed; the reconciler retries', { ...what, error: String(err) });
    }
  }

  /** Installs sets and rules and loads the LAN and every active device in one replace per family. */
  private async enforce(rulesInPlace = false): Promise<void> {
    const { kernel, config } = this.deps;
    if (!rulesInPlace) await this.installRules();
    const failed = kernel.replaceAllowed(this.desiredEntries(), config.limits.maxEntries);
    for (const f of failed) this.deps.log('error', 'kernel refused an entry', { reason: f.reason });
    this.enforcing = true;
  }

  /** Sets, chains and the LAN: the NAS is closed to the internet from here on (the allow sets as they are). */
  private async installRules(): Promise<void> {
    const { kernel, config } = this.deps;
    try {
      await kernel.install(this.plan, config.limits.maxEntries);
    } catch (err) {
      const why = explainKernelFailure(err);
      if (why) throw new EngineError('kernel_unsupported', `cannot enforce: ${why}`);
      throw err;
    }
    kernel.setLan(this.lanNetworks());
  }

  /** A reloaded config (SIGHUP): policy, limits, LAN and firewall scope apply at once; what the schema marks restartRequired refuses the reload. */
  reconfigure(config: Config): Promise<void> {
    return this.exclusive(async () => {
      const before = this.deps.config;
      const changed = restartRequiredChanges(before, config);
      if (changed.length) {
        throw new EngineError('conflict', `${changed.join(', ')} changed; restart the daemon to apply ${changed.length > 1 ? 'them' : 'it'}`, changed[0]);
      }
      this.deps = { ...this.deps, config };
      this.plan = { names: kernelNames(config), protect: config.firewall.protect, action: config.firewall.action };
      if (this.enabled) await this.enforce();
    });
  }

  /** What the reconciler watches between full checks: cheap, and null while there is nothing to watch. */
  watch(): string | null {
    return this.enabled && this.enforcing && !this.stopped ? this.deps.kernel.fingerprint() : null;
  }

  /**
   * Called by the reconciler: compares the kernel with what is wanted (the rules, and every member of the allow
   * and LAN sets), puts back what another component removed, and takes out what it added, cutting the flows
   * of addresses that were let in by it.
   */
  reconcile(): Promise<string[]> {
    return this.exclusive(async () => {
      if (!this.enabled || this.stopped) return [];
      const { kernel, log } = this.deps;
      const mono = this.mono();
      // Every device's entries; one shared by several devices is wanted until the latest of their deadlines.
      let count = 0;
      for (const a of this.active.values()) count += a.nets.length;
      const health = await kernel.check(this.plan, {
        allowed: visit => {
          for (const { deadline, nets } of this.active.values()) {
            const timeout = kernelTimeout(deadline, mono) ?? 0;
            for (const net of nets) visit(net, timeout);
          }
        },
        allowedCount: count,
        lan: this.lanNetworks(),
      });
      const problems = this.enforcing ? [...health.problems] : ['enforcement has not started yet', ...health.problems];
      if (this.pendingCuts.length) problems.push(`${this.pendingCuts.length} ended entries still to take out of the kernel`);
      if (problems.length === 0) {
        this.unhealed = null;
        return [];
      }
      const { members } = health;
      if (!this.enforcing || health.damaged) await this.enforce();
      else {
        // The LAN first: an intruder's flows are cut below, once no LAN entry lets them back in.
        if (members.lanDiffers) kernel.setLan(this.lanNetworks());
        for (const f of kernel.allow(members.missing)) log('error', 'kernel refused an entry', { reason: f.reason });
      }
      // Ended entries the kernel would not take out before, and what another component let in: deleted from
      // the allow sets (a full install above already left them out) and their open flows cut.
      const pending = this.pendingCuts.length;
      const cuts = [...this.pendingCuts, ...members.extra, ...members.lanIntruders];
      let flowsCut = 0;
      if (cuts.length) {
        const { cut, failed } = kernel.disallow(cuts);
        flowsCut = cut;
        this.pendingCuts = failed.filter(f => f.index < pending).map(f => cuts[f.index]);
      }
      const what = problems.join('; ');
      const again = this.unhealed?.what === what ? this.unhealed : null;
      if (again && this.mono() - again.reportedAt < UNHEALED_REPORT_MS) {
        again.repeats++;
        log('debug', 'repaired enforcement again', { problems, flowsCut, repeats: again.repeats });
        return problems;
      }
      const detail = again ? `${what} (the repair does not hold: found again by ${again.repeats + 1} checks since the last report)` : what;
      this.unhealed = { what, reportedAt: this.mono(), repeats: 0 };
      log('warn', 'repaired enforcement', { problems, flowsCut });
      // A full flash must not keep the repair from being announced: it is done, and logged above.
      await this.deps.store.appendAudit({ actor: SYSTEM, action: 'repaired', detail: detail.slice(0, 500) })
        .catch(err => log('error', 'could not record the repair in the audit log', { error: String(err) }));
      this.events.emit('repaired', { what: detail });
      return problems;
    });
  }

  /** The LAN changed (interfaces or config): reload the LAN sets. */
  lanChanged(): Promise<void> {
    return this.exclusive(async () => {
      if (this.enabled && !this.stopped) this.deps.kernel.setLan(this.lanNetworks());
    });
  }

  // ---- use cases ----

  /**
   * The on/off record first (durable), then the kernel. If the record cannot be written nothing changes; if the
   * kernel refuses, the record goes back to off and what was installed is taken out: the NAS is as it was.
   */
  enable(by: Actor): Promise<void> {
    return this.exclusive(async () => {
      if (this.enabled) return;
      this.switchTo(true, by);
      try {
        await this.enforce();
      } catch (err) {
        this.writeSwitch(false, SYSTEM);
        this.enforcing = false;
        await this.deps.kernel.remove(this.plan).catch(() => undefined);
        throw err;
      }
      this.enabled = true;
      await this.auditQuietly({ actor: by, action: 'enable' });
      this.systemLog('info', `enabled by ${actorName(by)}`);
      this.events.emit('enabled', { by });
    });
  }

  /** The record first: a disable that cannot be recorded changes nothing, so a restart cannot undo it. */
  disable(by: Actor): Promise<void> {
    return this.exclusive(async () => {
      const wasEnabled = this.enabled;
      this.switchTo(false, by);
      this.enabled = false;
      this.enforcing = false;
      await this.deps.kernel.remove(this.plan);
      if (!wasEnabled) return;
      await this.auditQuietly({ actor: by, action: 'disable' });
      this.systemLog('warn', `disabled by ${actorName(by)}: the NAS accepts connections from any address`);
      this.events.emit('disabled', { by });
    });
  }

  private switchTo(enforce: boolean, by: Actor): void {
    try {
      this.deps.switch.write(enforce, actorName(by), this.now());
    } catch (err) {
      const full = (err as { code?: string }).code === 'store_full';
      throw new EngineError(full ? 'storage_full' : 'conflict',
        `cannot ${enforce ? 'enable' : 'disable'}: ${(err as Error).message}; nothing was changed`);
    }
  }

  /** An audit row about something already done: a full partition must not turn it into a failure. */
  private async auditQuietly(entry: Parameters<Store['appendAudit']>[0]): Promise<void> {
    await this.deps.store.appendAudit(entry, { mayUseReserve: true })
      .catch(err => this.deps.log('error', 'could not write an audit row', { action: entry.action, error: String(err) }));
  }

  register(req: RegisterRequest, by: Actor): Promise<Device> {
    return this.exclusive(async () => {
      const { config, store, kernel } = this.deps;
      const addrs = this.checkAddresses([req.address, ...(req.moreAddresses ?? [])]);
      const expiry = checkExpiry(req.expiry, config.policy);
      checkUntilRevokedSource(expiry, req.source);
      const label = checkLabel(req.label);
      const qnapId = checkQnapId(req.qnapId);
      const existing = await store.findActiveByAddress(addrs[0].text, req.source);
      this.checkNotHeld(addrs.map(a => a.text), req.source, existing?.id ?? null);
      if (!existing && this.active.size >= config.limits.maxEntries) {
        throw new EngineError('capacity', `the trusted list is full (${config.limits.maxEntries} entries, limits.maxEntries); revoke a device first`);
      }
      const now = this.now();
      const expiresAt = expiresAtFor(expiry, now);
      const [first, ...more] = addrs;
      const device = await store.registerDevice(
        { address: first.text, family: first.family, prefix: first.prefix, extraAddresses: more.map(a => a.text), label: label ?? existing?.label ?? '',
          qnapId: qnapId !== undefined ? qnapId : existing?.qnapId ?? null, source: req.source, policy: expiry.policy,
          sessionId: expiry.policy === 'session' ? expiry.sessionId : null, expiresAt },
        { actor: by, action: existing ? 'renew' : 'register', detail: `${describeExpiry(expiry)}${more.length ? `; ${addrs.map(a => a.text).join(' ')}` : ''}` });
      const deadline = deadlineOf(expiresAt, now, this.mono());
      const before = this.active.get(device.id)?.nets ?? [];
      const nets = this.entriesOf(device);
      this.active.set(device.id, { device, deadline, nets });
      this.scheduleExpiry();
      if (this.enabled) {
        // A renewal with fewer addresses: the ones it no longer has leave (unless someone else holds them).
        this.release(before.filter(b => !nets.includes(b)), { id: device.id, why: 'address no longer registered' });
        const failed = kernel.allow(this.allowUntil(nets, deadline, new Set([device.id])));
        if (failed.length) {
          throw new EngineError('kernel_failed', `device ${device.id} is registered but the kernel refused its entry (${failed[0].reason}); the reconciler will retry`);
        }
      }
      this.events.emit('registered', { device });
      return device;
    });
  }

  /**
   * A device's addresses, checked as device addresses and canonical: at most one IPv4 and
   * policy.maxIpv6PerDevice IPv6, none twice.
   */
  private checkAddresses(texts: readonly unknown[]): IpNetwork[] {
    const { policy } = this.deps.config;
    const opts = { allowPrefixes: policy.allowPrefixes, maxPrefixWidthV4: policy.maxPrefixWidthV4, maxPrefixWidthV6: policy.maxPrefixWidthV6 };
    const addrs = texts.map(t => parseDeviceAddress(String(t ?? ''), opts));
    const seen = new Set<string>();
    for (const a of addrs) {
      if (seen.has(a.text)) throw new EngineError('conflict', `${a.text} is given twice`, 'address');
      seen.add(a.text);
    }
    const v4 = addrs.filter(a => a.family === 4).length;
    const v6 = addrs.length - v4;
    if (v4 > 1) throw new EngineError('conflict', `a device has at most one IPv4 address, got ${v4}`, 'address');
    if (v6 > policy.maxIpv6PerDevice) throw new EngineError('conflict', `a device has at most ${policy.maxIpv6PerDevice} IPv6 addresses (policy.maxIpv6PerDevice), got ${v6}`, 'address');
    return addrs;
  }

  /** An address belongs to one active device per source (besides `self`, the one being renewed). */
  private checkNotHeld(texts: readonly string[], source: Device['source'], self: number | null): void {
    for (const clash of texts) {
      const id = this.active.idsWithAddress(clash, source).find(other => other !== self);
      if (id === undefined) continue;
      const { device } = this.active.get(id)!;
      throw new EngineError('conflict', `${clash} is already an address of device ${id} (${device.label || device.address}); revoke it first`, 'address');
    }
  }

  /**
   * Adds an address to an active device (seen from a new address during its session): the same expiry, never
   * a later one; audited. Renewing a device's addresses replaces them; this only adds.
   */
  addAddress(deviceId: number, address: string, by: Actor): Promise<Device> {
    return this.exclusive(async () => {
      const current = this.active.get(deviceId);
      if (!current) throw new EngineError('not_found', `no active device ${deviceId} (see sipa list)`, 'id');
      const [added] = this.checkAddresses([address]);
      if (current.device.addresses.includes(added.text)) return current.device;
      this.checkAddresses([...current.device.addresses, added.text]);
      this.checkNotHeld([added.text], current.device.source, deviceId);
      const device = await this.deps.store.addAddresses(deviceId, [added.text], { actor: by, action: 'add-address', detail: `device ${deviceId} seen from ${added.text}; expiry unchanged` });
      if (!device) throw new EngineError('not_found', `device ${deviceId} is no longer active`, 'id');
      const nets = this.entriesOf(device);
      this.active.set(deviceId, { device, deadline: current.deadline, nets });
      if (this.enabled) {
        const fresh = nets.filter(n => !current.nets.includes(n));
        const failed = this.deps.kernel.allow(this.allowUntil(fresh, current.deadline, new Set([deviceId])));
        if (failed.length) this.deps.log('error', 'kernel refused an added address; the reconciler retries', { deviceId, reasons: failed.map(f => f.reason) });
      }
      this.events.emit('registered', { device });
      return device;
    });
  }

  /**
   * Registers a batch (`sipa register --from FILE`): every item is checked first and one bad item refuses the
   * whole batch, naming each bad item; then one store transaction and one kernel batch.
   */
  registerMany(reqs: readonly RegisterRequest[], by: Actor): Promise<{ devices: Device[]; renewed: number }> {
    return this.exclusive(async () => {
      const { config, store, kernel } = this.deps;
      if (reqs.length === 0 || reqs.length > BATCH_MAX) {
        throw new EngineError('bad_batch', `a batch holds 1 to ${BATCH_MAX} devices, not ${reqs.length}`, 'devices');
      }
      const now = this.now();
      const errors: BatchItemError[] = [];
      const fields: Array<Parameters<Store['registerDevices']>[0][number]> = [];
      const seen = new Set<string>();
      reqs.forEach((req, item) => {
        try {
          const net = parseDeviceAddress(String(req.address ?? ''), {
            allowPrefixes: config.policy.allowPrefixes, maxPrefixWidthV4: config.policy.maxPrefixWidthV4, maxPrefixWidthV6: config.policy.maxPrefixWidthV6,
          });
          const expiry = checkExpiry(req.expiry, config.policy);
          checkUntilRevokedSource(expiry, req.source);
          const label = checkLabel(req.label) ?? '';
          const qnapId = checkQnapId(req.qnapId) ?? null;
          const key = `${net.text}|${req.source}`;
          if (seen.has(key)) throw new EngineError('bad_batch', `${net.text} is in the batch twice`, 'address');
          seen.add(key);
          fields.push({ address: net.text, family: net.family, prefix: net.prefix, label, qnapId, source: req.source, policy: expiry.policy,
            sessionId: expiry.policy === 'session' ? expiry.sessionId : null, expiresAt: expiresAtFor(expiry, now) });
        } catch (err) {
          const e = err as { field?: unknown; message?: unknown };
          errors.push({ item, field: typeof e.field === 'string' ? e.field : null, message: String(e.message ?? err) });
        }
      });
      if (errors.length) {
        const first = errors.slice(0, 5).map(e => `item ${e.item + 1}${e.field ? ` (${e.field})` : ''}: ${e.message}`).join('; ');
        throw new EngineError('bad_batch', `${errors.length} of ${reqs.length} items are not valid, so nothing was registered: ${first}${errors.length > 5 ? '; …' : ''}`, 'devices', errors);
      }
      const newOnes = fields.filter(f => !this.active.idsWithAddress(f.address, f.source).some(id => this.active.get(id)!.device.address === f.address)).length;
      if (this.active.size + newOnes > config.limits.maxEntries) {
        throw new EngineError('capacity', `the batch would make ${this.active.size + newOnes} active devices, more than limits.maxEntries (${config.limits.maxEntries}); nothing was registered`);
      }
      const { devices, renewed } = await store.registerDevices(fields, {
        actor: by, action: 'register-batch', detail: `${devices0(fields.length)} registered (${fields.length} in the batch)`,
      });
      const mono = this.mono();
      const ids = new Set<number>();
      const entries: AllowEntry[] = [];
      const added: Array<{ nets: PackedEntry[]; deadline: number }> = [];
      for (const device of devices) {
        const nets = this.entriesOf(device);
        const deadline = deadlineOf(device.expiresAt, now, mono);
        this.active.set(device.id, { device, deadline, nets });
        ids.add(device.id);
        added.push({ nets, deadline });
      }
      this.scheduleExpiry();
      if (this.enabled) {
        const others = this.latestDeadlines(new Set(added.flatMap(a => a.nets)), ids);
        for (const { nets, deadline } of added) {
          for (const n of nets) entries.push({ ...unpackEntry(n), timeout: kernelTimeout(Math.max(deadline, others.get(n) ?? 0), mono) ?? 1 });
        }
        const failed = kernel.allow(entries);
        if (failed.length) {
          throw new EngineError('kernel_failed', `${devices.length} devices are registered but the kernel refused ${failed.length} entries (first: ${failed[0].reason}); the reconciler will retry`);
        }
      }
      this.events.emit('batch', { registered: devices.length, revoked: 0 });
      return { devices, renewed };
    });
  }

  /**
   * Revokes a batch of ids or addresses in one store transaction and one kernel batch. Items that name no active
   * device are returned in `notFound`; the rest are revoked.
   */
  revokeMany(idsOrAddresses: ReadonlyArray<number | string>, by: Actor, reason = 'revoked by an admin'): Promise<{ revoked: Device[]; notFound: Array<number | string> }> {
    return this.exclusive(async () => {
      if (idsOrAddresses.length === 0 || idsOrAddresses.length > BATCH_MAX) {
        throw new EngineError('bad_batch', `a batch holds 1 to ${BATCH_MAX} devices, not ${idsOrAddresses.length}`, 'devices');
      }
      const why = checkReason(reason);
      const { config } = this.deps;
      const chosen = new Map<number, Device>();
      const notFound: Array<number | string> = [];
      const errors: BatchItemError[] = [];
      idsOrAddresses.forEach((x, item) => {
        const text = String(x).trim();
        if (/^\d{1,15}$/.test(text)) {
          const a = this.active.get(Number(text));
          if (a) chosen.set(a.device.id, a.device);
          else notFound.push(x);
          return;
        }
        try {
          const net = parseDeviceAddress(text, { allowPrefixes: true, maxPrefixWidthV4: config.policy.maxPrefixWidthV4, maxPrefixWidthV6: config.policy.maxPrefixWidthV6 });
          const ids = this.active.idsWithAddress(net.text);
          for (const id of ids) chosen.set(id, this.active.get(id)!.device);
          if (!ids.length) notFound.push(x);
        } catch (err) {
          errors.push({ item, field: 'address', message: (err as Error).message });
        }
      });
      if (errors.length) {
        const first = errors.slice(0, 5).map(e => `item ${e.item + 1}: ${e.message}`).join('; ');
        throw new EngineError('bad_batch', `${errors.length} of ${idsOrAddresses.length} items are not valid, so nothing was revoked: ${first}`, 'devices', errors);
      }
      const revoked = await this.end([...chosen.values()], 'revoked', by, why, chosen.size <= 100);
      if (revoked.length) this.events.emit('batch', { registered: 0, revoked: revoked.length });
      return { revoked, notFound };
    });
  }

  /** By id: that registration. By address: every active registration of it (local and portal alike). */
  private async findForRevoke(idOrAddress: number | string): Promise<Device[]> {
    const { store, config } = this.deps;
    const text = String(idOrAddress).trim();
    if (/^\d{1,15}$/.test(text)) {
      const device = await store.getDevice(Number(text));
      if (!device) throw new EngineError('not_found', `no device ${text} (see sipa list)`, 'id');
      if (device.state !== 'active') throw new EngineError('conflict', `device ${device.id} (${device.address}) is already ${device.state}`, 'id');
      return [device];
    }
    const net = parseDeviceAddress(text, { allowPrefixes: true, maxPrefixWidthV4: config.policy.maxPrefixWidthV4, maxPrefixWidthV6: config.policy.maxPrefixWidthV6 });
    const devices = await store.activeRowsOfAddress(net.text);
    if (!devices.length) throw new EngineError('not_found', `no active device with address ${net.text} (see sipa list)`, 'address');
    return devices;
  }

  /**
   * Ends devices in the store (durable), then in the kernel with their flows; books and announces them. When
   * the store cannot record it (full, failing), access still ends now and the booking is retried later.
   */
  private async end(devices: Device[], to: 'revoked' | 'expired', by: Actor, reason: string, announceEach = true): Promise<Device[]> {
    if (devices.length === 0) return [];
    const at = this.now();
    let ended: Device[];
    let unrecorded: Error | null = null;
    try {
      ended = await this.deps.store.endDevices(devices.map(d => d.id), to, { at, by, reason });
    } catch (err) {
      unrecorded = err as Error;
      ended = devices.map(d => ({ ...d, state: to, endedAt: at, endedBy: actorName(by), endReason: reason }));
      this.queueBooking(ended.map(d => d.id), to, by, reason, at, unrecorded);
    }
    const nets = ended.flatMap(d => this.active.get(d.id)?.nets ?? this.entriesOrNone(d));
    for (const d of ended) this.active.delete(d.id);
    // An entry that another active device still holds (a local registration beside a portal one, a shared /64)
    // stays until that one's deadline; only what nobody holds any more leaves the kernel and has its flows cut.
    this.release(nets, { ids: ended.map(d => d.id), to, by: actorName(by) });
    this.scheduleExpiry();
    if (announceEach) for (const device of ended) this.events.emit(to, { device });
    if (unrecorded && to === 'revoked' && by.surface !== 'system') {
      const full = (unrecorded as { code?: string }).code === 'store_full';
      throw new EngineError(full ? 'storage_full' : 'kernel_failed',
        `${ended.map(d => `device ${d.id} (${d.address})`).join(', ')}: access ended now, but the revocation could not be recorded `
        + `(${unrecorded.message}); it is retried, and until it is recorded a restart could restore the device`);
    }
    return ended;
  }

  /** Records ends later, after a failed write; the kernel side was already done. */
  private queueBooking(ids: number[], to: 'revoked' | 'expired', by: Actor, reason: string, at: number, err: Error): void {
    if (this.unbooked.length === 0) {
      this.deps.log('error', 'cannot record ended devices; retrying with back-off', { ids, to, error: err.message });
      this.systemLog('error', `ended devices could not be recorded (${err.message}); retrying`);
    }
    this.unbooked.push({ ids, to, reason, by, at });
    this.scheduleBooking();
  }

  /** Books ends found at start; a failure queues them for later instead of failing the start. */
  private book(ids: number[], to: 'revoked' | 'expired', by: Actor, reason: string, at: number): void {
    this.deps.store.endDevices(ids, to, { at, by, reason }).catch(err => this.queueBooking(ids, to, by, reason, at, err as Error));
  }

  private scheduleBooking(): void {
    if (this.bookingTimer || this.stopped) return;
    this.bookingTimer = setTimeout(() => {
      this.bookingTimer = null;
      void this.exclusive(() => this.retryBookings());
    }, this.bookingDelayMs);
    this.bookingTimer.unref?.();
  }

  private async retryBookings(): Promise<void> {
    while (this.unbooked.length) {
      const next = this.unbooked[0];
      try {
        await this.deps.store.endDevices(next.ids, next.to, { at: next.at, by: next.by, reason: next.reason });
      } catch {
        this.bookingDelayMs = Math.min(this.bookingDelayMs * 2, BOOKING_RETRY_MAX_MS);
        this.scheduleBooking();
        return;
      }
      this.unbooked.shift();
    }
    this.bookingDelayMs = BOOKING_RETRY_FIRST_MS;
    this.deps.log('info', 'ended devices recorded after all');
  }

  revoke(idOrAddress: number | string, by: Actor, reason = 'revoked by an admin'): Promise<Device> {
    return this.exclusive(async () => {
      const devices = await this.findForRevoke(idOrAddress);
      const [ended] = await this.end(devices, 'revoked', by, checkReason(reason));
      return ended;
    });
  }

  endSession(sessionId: string, by: Actor, reason = 'signed out'): Promise<Device[]> {
    return this.exclusive(async () => {
      const devices = await this.deps.store.devicesOfSession(sessionId, sessionScope(by));
      return this.end(devices, 'revoked', by, checkReason(reason));
    });
  }

  renewSession(sessionId: string, leaseSeconds: number, by: Actor): Promise<Device[]> {
    return this.exclusive(async () => {
      const expiry = checkExpiry({ policy: 'session', sessionId, leaseSeconds }, this.deps.config.policy) as Extract<ExpiryRequest, { policy: 'session' }>;
      const now = this.now();
      const expiresAt = expiresAtFor(expiry, now);
      const devices = await this.deps.store.extendSession(sessionId, expiresAt, { actor: by, action: 'lease', detail: `${leaseSeconds}s` }, sessionScope(by));
      const deadline = this.mono() + (expiresAt - now);
      const nets = devices.map(d => this.active.get(d.id)?.nets ?? this.entriesOrNone(d));
      devices.forEach((device, i) => this.active.set(device.id, { device, deadline, nets: nets[i] }));
      if (this.enabled && devices.length) {
        const ids = new Set(devices.map(d => d.id));
        const failed = this.deps.kernel.allow(this.allowUntil(nets.flat(), deadline, ids));
        if (failed.length) this.deps.log('error', 'kernel refused a lease renewal; the reconciler retries', { sessionId, reasons: failed.map(f => f.reason) });
      }
      this.scheduleExpiry();
      return devices;
    });
  }

  // ---- expiry booking ----

  private scheduleExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (this.stopped || this.active.size === 0) return;
    const next = this.active.earliestDeadline();
    // Nothing ends by itself (every active device lasts until revoked): nothing to wait for.
    if (next === Infinity) return;
    // Timers are capped (2^31 ms); a far deadline is simply looked at again later.
    const wait = Math.min(Math.max(0, next - this.mono()), 2 ** 30);
    this.expiryTimer = setTimeout(() => void this.bookExpiries(), wait);
    this.expiryTimer.unref?.();
  }

  private bookExpiries(): Promise<void> {
    return this.exclusive(async () => {
      const mono = this.mono();
      const due = [...this.active.values()].filter(a => a.deadline <= mono).map(a => a.device);
      if (due.length) {
        await this.end(due, 'expired', SYSTEM, 'expired').catch(err => {
          this.deps.log('error', 'could not book expiries', { error: String(err) });
        });
        // Whatever happened above, these are past their deadline: never look at them again in a tight loop.
        for (const d of due) this.active.delete(d.id);
      }
      this.scheduleExpiry();
    });
  }

  // ---- reads ----

  async status(): Promise<Status> {
    return {
      enabled: this.enabled,
      enforcing: this.enabled && this.enforcing,
      activeDevices: this.active.size,
      lanNetworks: this.lanNetworks().map(n => n.text),
      clockTrusted: this.clockTrusted,
      clockNote: this.clockNote,
      ipv6Scope: this.deps.config.policy.ipv6Scope,
      allowUntilRevoked: this.deps.config.policy.allowUntilRevoked,
      storeRecovered: this.storeRecovered,
      storageFull: this.storageFullNote(),
      quarantinedRows: this.quarantined,
      unrecordedEnds: this.unbooked.reduce((n, u) => n + u.ids.length, 0),
      portal: this.deps.portalStatus?.() ?? { configured: this.deps.config.portal.url !== null, bound: false, connected: false },
      version: this.deps.version,
      ...(this.deps.runtime ? { runtime: this.deps.runtime() } : {}),
    };
  }

  private storageFullNote(): string | null {
    const since = this.deps.store.storageFullSince();
    if (since === null) return null;
    return `the data partition (${this.deps.config.dataDir}) has been full since ${new Date(since).toISOString()}: `
      + 'registrations fail until space is freed; revocations and disable still work';
  }

  listPages(opts: { all?: boolean } = {}): AsyncIterable<Device[]> {
    return this.deps.store.devicesInPages(opts);
  }

  async firstActive(limit: number): Promise<{ devices: Device[]; total: number }> {
    return { devices: firstInListOrder(this.activeDevices(), limit), total: this.active.size };
  }

  async allows(address: string): Promise<boolean> {
    let a: IpNetwork;
    try {
      a = parseNetwork(address);
    } catch {
      return false;
    }
    const mono = this.mono();
    const holds = heldIn(a);
    for (const { nets, deadline } of this.active.values()) {
      // Past its end and not yet booked: the kernel has already dropped it.
      if (deadline <= mono) continue;
      if (nets.some(holds)) return true;
    }
    return false;
  }

  private *activeDevices(): Iterable<Device> {
    for (const a of this.active.values()) yield a.device;
  }

  list(opts: { all?: boolean } = {}): Promise<Device[]> {
    return this.deps.store.listDevices(opts);
  }

  audit(opts: { limit?: number; beforeId?: number; text?: string } = {}): Promise<AuditEntry[]> {
    return this.deps.store.listAudit({ limit: opts.limit ?? 100, beforeId: opts.beforeId, text: opts.text });
  }
}

function devices0(n: number): string {
  return n === 1 ? '1 device' : `${n} devices`;
}

function actorName(by: Actor): string {
  return `${by.surface}:${by.name}`;
}

/** The portal may end or renew only the sessions' devices it registered itself; the admin, any of them. */
function sessionScope(by: Actor): 'portal' | null {
  return by.surface === 'portal' ? 'portal' : null;
}

/** The refusal for text holding an UNSHOWABLE character, naming the field and the character. */
function controlRefusal(field: 'label' | 'reason', text: string): EngineError | null {
  const m = UNSHOWABLE.exec(text);
  if (!m) return null;
  const code = `U+${(m[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}`;
  return new EngineError(field === 'label' ? 'bad_label' : 'bad_reason', `${field} must not contain control characters or text-direction marks (found ${code})`, field);
}

function checkLabel(label: unknown): string | undefined {
  if (label === undefined || label === null) return undefined;
  if (typeof label !== 'string') throw new EngineError('bad_label', 'label must be text', 'label');
  const t = label.trim();
  if (t.length > LABEL_MAX) throw new EngineError('bad_label', `label is ${t.length} characters; at most ${LABEL_MAX}`, 'label');
  const refused = controlRefusal('label', t);
  if (refused) throw refused;
  return t;
}

function checkQnapId(id: unknown): string | null | undefined {
  if (id === undefined) return undefined;
  if (id === null) return null;
  if (typeof id !== 'string' || id.length === 0 || id.length > 128 || UNSHOWABLE.test(id)) {
    throw new EngineError('bad_qnap_id', 'QNAP ID must be 1 to 128 printable characters', 'qnapId');
  }
  return id;
}

function checkReason(reason: string): string {
  const t = String(reason).trim().slice(0, 200);
  const refused = controlRefusal('reason', t);
  if (refused) throw refused;
  return t || 'revoked';
}

function describeExpiry(e: ReturnType<typeof checkExpiry>): string {
  if (e.policy === 'until-revoked') return 'until revoked';
  return e.policy === 'fixed' ? `fixed ${e.seconds}s` : `session ${e.sessionId} lease ${e.leaseSeconds}s`;
}

/** Only an administrator registers until revoked: a device that registers itself (portal) always has an end. */
function checkUntilRevokedSource(e: ReturnType<typeof checkExpiry>, source: Device['source']): void {
  if (e.policy === 'until-revoked' && source !== 'local') {
    throw new EngineError('conflict', 'only an administrator can register a device until revoked; a portal registration has an end', 'expiry.policy');
  }
}

