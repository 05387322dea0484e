import type { AuditEntry, Device, DeviceSource } from '../domain';
import { Database, type Recovered, type Tx } from './database';
import * as audit from './audit';
import * as devices from './devices';
import { migrate } from './migrations';
import { SpaceReserve } from './reserve';
import { isNoSpace } from './switch';
import * as portal from './portal-state';
import * as settings from './settings';
import { inputTime } from './validate';
import * as wallClock from './wall-clock';

export type { Recovered } from './database';
export type { AuditNote } from './audit';
export type { DeviceFields, DeviceEnd, EndedState, UnreadableRow } from './devices';
export type { JsonValue } from './settings';

export interface StoreOptions {
  /** Directory of sipa.db; on a NAS the flash config partition. */
  dataDir: string;
  /** Wall clock in UTC ms; injectable for tests. */
  now?: () => number;
}

export interface AuditAppend extends audit.AuditNote {
  deviceId?: number | null;
  address?: string | null;
}

export interface PruneLimits {
  /** Ended (expired/revoked) devices that ended before this time are deleted. */
  endedBefore: number;
  /** Audit rows before this time are deleted… */
  auditBefore: number;
  /** …and so are the oldest beyond this many. */
  auditMaxRows: number;
  /**
   * If the pages in use still exceed this, the oldest audit rows go a tenth at a time until they do not:
   * long details must not push the file past the flash budget.
   */
  maxDbBytes?: number;
}

/** Ends of more devices than this at once are audited as one row, not one each. */
const AUDIT_EACH_MAX = 100;

/** The service's durable state: devices, audit log, settings, portal sequence numbers. */
export class Store {
  /** When a write last found the partition full (cleared by the next write that succeeds), else null. */
  private fullSince: number | null = null;

  private constructor(
    private readonly db: Database,
    private readonly now: () => number,
    readonly reserve: SpaceReserve,
  ) {}

  static async open(opts: StoreOptions): Promise<{ store: Store; recovered: Recovered | null }> {
    const now = opts.now ?? Date.now;
    const { db, recovered } = await Database.open(opts.dataDir, now);
    try {
      await migrate(db);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
    const reserve = new SpaceReserve(opts.dataDir);
    reserve.ensure();
    return { store: new Store(db, now, reserve), recovered };
  }

  /** Since when writes find the data partition full, or null when the last write went through. */
  storageFullSince(): number | null {
    return this.fullSince;
  }

  close(): Promise<void> {
    return this.db.close();
  }

  /**
   * The active devices a page at a time, by id. A restart reads 10,000 of them: in pages, neither SQLite's
   * worker thread nor the JS heap has to hold them all at once (and keep that memory afterwards).
   */
  async *activeDevicesInPages(pageSize = 500): AsyncGenerator<{ devices: Device[]; unreadable: devices.UnreadableRow[] }> {
    for (let after = 0; ;) {
      const page = await this.db.read((q) => devices.activeDevicesPage(q, after, pageSize));
      if (page.lastId === null) return;
      yield page;
      after = page.lastId;
    }
  }

  /** Like listDevices, a page at a time (the API streams long lists). */
  async *devicesInPages(opts: { all?: boolean } = {}, pageSize = 200): AsyncGenerator<Device[]> {
    for (let after = 0; ;) {
      const page = await this.db.read((q) => devices.devicesPage(q, opts.all === true, after, pageSize));
      if (page.length === 0) return;
      yield page;
      after = page[page.length - 1].id;
    }
  }

  /** Sets unreadable device rows aside in the quarantine table, with one audit row each. */
  quarantineDevices(rows: readonly devices.UnreadableRow[], note: audit.AuditNote): Promise<void> {
    return this.write(async (tx, at) => {
      await devices.quarantineRows(tx, rows, at);
      for (const r of rows) await audit.insertAudit(tx, { ...note, at, deviceId: r.rowId, detail: r.reason.slice(0, 500) });
    });
  }

  listQuarantine(): ReturnType<typeof devices.listQuarantine> {
    return this.db.read((q) => devices.listQuarantine(q));
  }

  /** Active devices, or with `all` every stored one (ended ones until the pruner removes them), by id. */
  listDevices(opts: { all?: boolean } = {}): Promise<Device[]> {
    return this.db.read((q) => devices.listDevices(q, opts.all === true));
  }

  getDevice(id: number): Promise<Device | null> {
    return this.db.read((q) => devices.getDevice(q, id));
  }

  /** The active registration of an address from one source (local or portal). */
  findActiveByAddress(address: string, source: DeviceSource): Promise<Device | null> {
    return this.db.read((q) => devices.findActiveByAddress(q, address, source));
  }

  /** Every active registration of an address: at most one local and one portal. */
  activeRowsOfAddress(address: string): Promise<Device[]> {
    return this.db.read((q) => devices.activeRowsOfAddress(q, address));
  }

  devicesOfSession(sessionId: string, source: DeviceSource | null = null): Promise<Device[]> {
    return this.db.read((q) => devices.activeDevicesOfSession(q, sessionId, source));
  }

  /**
   * Registers an address, or renews its active entry (same id, new expiry/label/qnapId/session/source), and
   * audits it, in one transaction.
   */
  registerDevice(fields: devices.DeviceFields, note: audit.AuditNote): Promise<Device> {
    return this.write(async (tx, at) => {
      const { device } = await devices.registerDevice(tx, fields, at);
      await audit.insertAudit(tx, { ...note, at, deviceId: device.id, address: device.address });
      return device;
    });
  }

  /** Adds addresses to an active device, with an audit row; null when it is no longer active. */
  addAddresses(id: number, addresses: readonly string[], note: audit.AuditNote): Promise<Device | null> {
    return this.write(async (tx, at) => {
      const device = await devices.addAddresses(tx, id, addresses);
      if (device) await audit.insertAudit(tx, { ...note, at, deviceId: id, address: addresses.join(' ') });
      return device;
    });
  }

  /** Registers (or renews) a batch in one transaction, with one audit row for the batch. */
  registerDevices(fields: readonly devices.DeviceFields[], note: audit.AuditNote): Promise<{ devices: Device[]; renewed: number }> {
    return this.write(async (tx, at) => {
      const result = await devices.registerDevices(tx, fields, at);
      await audit.insertAudit(tx, { ...note, at });
      return result;
    });
  }

  /**
   * Ends those of `ids` still active (one audit row each) and returns them; others are left alone. Ending
   * access may use the space reserve: it must be recorded when nothing else can be.
   */
  endDevices(ids: readonly number[], to: devices.EndedState, end: devices.DeviceEnd): Promise<Device[]> {
    return this.write(async (tx, at) => {
      const ended = await devices.endActiveDevices(tx, ids, to, end);
      const action = to === 'revoked' ? 'revoke' : 'expire';
      if (ended.length <= AUDIT_EACH_MAX) {
        for (const d of ended) {
          await audit.insertAudit(tx, { at, actor: end.by, action, deviceId: d.id, address: d.address, detail: end.reason });
        }
      } else {
        // A batch of thousands is one line: the audit log lives on a flash partition of a few MiB.
        await audit.insertAudit(tx, { at, actor: end.by, action, detail: `${ended.length} devices: ${end.reason}`.slice(0, 500) });
      }
      return ended;
    }, { mayUseReserve: true });
  }

  /**
   * Moves the lease of the session's active devices to `expiresAt`. One audit row per renewal, not per device:
   * renewals are frequent and the log lives on flash. Writes nothing if no device's expiry changes.
   */
  extendSession(sessionId: string, expiresAt: number, note: audit.AuditNote, source: DeviceSource | null = null): Promise<Device[]> {
    return this.write(async (tx, at) => {
      const before = await devices.activeDevicesOfSession(tx, sessionId, source);
      const after = await devices.extendSession(tx, sessionId, expiresAt, source);
      if (before.some((d) => d.expiresAt !== expiresAt)) {
        await audit.insertAudit(tx, {
          ...note, at, detail: note.detail ?? `session ${sessionId}: ${after.length} device(s) until ${new Date(expiresAt).toISOString()}`,
        });
      }
      return after;
    });
  }

  /** `mayUseReserve`: the note records something that already happened to enforcement and must not be lost. */
  appendAudit(entry: AuditAppend, opts: { mayUseReserve?: boolean } = {}): Promise<AuditEntry> {
    return this.write((tx, at) => audit.insertAudit(tx, { ...entry, at }), opts);
  }

  /** Newest first; `text` keeps the entries that mention it (actor, surface, action, address, detail). */
  listAudit(opts: { limit?: number; beforeId?: number; text?: string } = {}): Promise<AuditEntry[]> {
    return this.db.read((q) => audit.listAudit(q, opts.limit ?? 100, opts.beforeId, opts.text));
  }

  async getSetting<T extends settings.JsonValue>(key: string): Promise<T | null> {
    return (await this.db.read((q) => settings.getSetting(q, key))) as T | null;
  }

  /** Returns false, having written nothing (not even the audit row), when the value is already stored. */
  setSetting(key: string, value: settings.JsonValue, note?: audit.AuditNote): Promise<boolean> {
    return this.write(async (tx, at) => {
      const changed = await settings.putSetting(tx, key, value);
      if (changed && note) await audit.insertAudit(tx, { ...note, at });
      return changed;
    });
  }

  getPortalSequence(bindingId: string): Promise<number | null> {
    return this.db.read((q) => portal.getPortalSequence(q, bindingId));
  }

  /** Rejects with 'portal_sequence_backwards' unless `seq` is greater than the last accepted one. */
  setPortalSequence(bindingId: string, seq: number): Promise<void> {
    return this.write((tx) => portal.advancePortalSequence(tx, bindingId, seq));
  }

  /** The newest wall-clock time this store has recorded, or null for an empty store. */
  lastSeenWallClock(): Promise<number | null> {
    return this.db.read((q) => wallClock.lastSeenWallClock(q));
  }

  /**
   * Makes `now` the clock reference, with an audit row. The stamp is written after the audit row: the write
   * path stamps each transaction with max(stamp, now), which a reset must overrule.
   */
  resetWallClock(now: number, note: audit.AuditNote): Promise<void> {
    inputTime('clock reference', now);
    return this.db.write(async (tx) => {
      await audit.insertAudit(tx, { ...note, at: now });
      await wallClock.resetWallClock(tx, now);
    });
  }

  /** Deletes old ended devices and audit rows in one transaction; writes nothing when nothing matches. */
  prune(limits: PruneLimits): Promise<{ devices: number; audit: number }> {
    inputTime('endedBefore', limits.endedBefore);
    inputTime('auditBefore', limits.auditBefore);
    return this.write(async (tx) => {
      const removed = {
        devices: await devices.deleteEndedBefore(tx, limits.endedBefore),
        audit: await audit.pruneAudit(tx, limits.auditBefore, Math.max(0, Math.floor(limits.auditMaxRows))),
      };
      if (limits.maxDbBytes !== undefined) {
        for (let round = 0; round < 10 && (await audit.usedBytes(tx)) > limits.maxDbBytes; round++) {
          const n = await audit.pruneOldestAuditTenth(tx);
          if (n === 0) break;
          removed.audit += n;
        }
      }
      return removed;
    });
  }

  /** Pragmas in force and schema version, for diagnostics (synchronous 2 = FULL). */
  storageInfo(): ReturnType<Database['storageInfo']> {
    return this.db.storageInfo();
  }


  /**
   * A write transaction whose rows carry the time it ran (not the time it was queued). With `mayUseReserve`,
   * a transaction that finds the partition full gives up the space reserve and is tried once more.
   */
  private async write<T>(fn: (tx: Tx, at: number) => Promise<T>, opts: { mayUseReserve?: boolean } = {}): Promise<T> {
    const attempt = (): Promise<T> => {
      let at = 0;
      return this.db.write(
        (tx) => {
          at = this.now();
          return fn(tx, at);
        },
        (tx) => wallClock.stampWallClock(tx, at),
      );
    };
    try {
      const result = await attempt().catch((err: unknown) => {
        if (opts.mayUseReserve && isNoSpace(err) && this.reserve.release()) return attempt();
        throw err;
      });
      this.fullSince = null;
      // Given up earlier (here or by the switch file): made again as soon as there is room.
      this.reserve.ensure();
      return result;
    } catch (err) {
      if (isNoSpace(err)) this.fullSince ??= this.now();
      throw err;
    }
  }
}
