import fs from 'node:fs';
import path from 'node:path';
import sqlite3 from 'sqlite3';
import { StoreError, isCorruptionError, storeErrorFrom } from './errors';

export type SqlValue = string | number | null;
export type SqlParams = readonly SqlValue[];

/** What a read or a write transaction may do; rows come back untyped and are checked by the caller. */
export interface Query {
  get<T>(sql: string, params?: SqlParams): Promise<T | undefined>;
  all<T>(sql: string, params?: SqlParams): Promise<T[]>;
}

export interface Tx extends Query {
  run(sql: string, params?: SqlParams): Promise<{ changes: number; lastId: number }>;
}

export interface Recovered {
  movedTo: string;
  reason: string;
}

export const DB_FILE_NAME = 'sipa.db';

// Small pages: the flash partition is ext2 with 1 KiB blocks on most models, and a WAL frame is one page, so
// a registration rewrites a few KiB instead of a few times 4 KiB.
const PAGE_SIZE = 1024;
// Checkpoint after ~64 KiB of WAL and cut the WAL back to that size, so it never eats the flash budget.
const WAL_AUTOCHECKPOINT_PAGES = 64;
const JOURNAL_SIZE_LIMIT_BYTES = 64 * 1024;
// The page cache, in KiB (SQLite's default is 2,000): the daemon reads the whole file once at start, then only
// touches a few index and row pages per request; the kernel's page cache keeps the file anyway.
const PAGE_CACHE_KIB = 256;

const ROW_CONSTRAINT_COMPLAINT = /^(CHECK constraint failed in |NULL value in )/;

/**
 * One connection to sipa.db and the one queue every statement goes through. sqlite3 serialises only its
 * synchronous callbacks, so a transaction spanning awaits could interleave with another one; the queue makes
 * each read or write transaction run alone, in call order.
 */
export class Database {
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly handle: sqlite3.Database,
  ) {}

  /**
   * Opens (or creates) the file, sets the pragmas and checks integrity. A damaged file, or one that is not a
   * database, is moved aside and a fresh one created in its place; the caller is told in `recovered`.
   */
  static async open(dataDir: string, now: () => number): Promise<{ db: Database; recovered: Recovered | null }> {
    const file = path.join(dataDir, DB_FILE_NAME);
    try {
      fs.mkdirSync(dataDir, { recursive: true });
    } catch (err) {
      throw storeErrorFrom(err, 'store_open_failed', `store: cannot create data dir ${dataDir}`);
    }
    const first = await Database.openChecked(file);
    if (first.ok) return { db: first.db, recovered: null };
    // Moved while still open: SQLite deletes a WAL it cannot use when the handle closes, and the WAL is part of
    // what the admin may want to look at.
    let movedTo: string;
    try {
      movedTo = moveAside(file, now());
    } finally {
      await first.close();
    }
    const second = await Database.openChecked(file);
    if (!second.ok) {
      await second.close();
      throw new StoreError('store_open_failed', `store: ${file} is still damaged after moving the old one aside: ${second.reason}`);
    }
    return { db: second.db, recovered: { movedTo, reason: first.reason } };
  }

  private static async openChecked(
    file: string,
  ): Promise<{ ok: true; db: Database } | { ok: false; reason: string; close: () => Promise<void> }> {
    let handle: sqlite3.Database;
    try {
      handle = await openHandle(file);
    } catch (err) {
      throw storeErrorFrom(err, 'store_open_failed', `store: cannot open ${file}`);
    }
    const db = new Database(file, handle);
    try {
      await db.configure();
      const problems = await db.integrityProblems();
      if (problems === null) return { ok: true, db };
      return { ok: false, reason: `integrity check failed: ${problems}`, close: () => db.closeQuietly() };
    } catch (err) {
      if (isCorruptionError(err)) return { ok: false, reason: (err as Error).message, close: () => db.closeQuietly() };
      await db.closeQuietly();
      throw storeErrorFrom(err, 'store_open_failed', `store: cannot open ${file}`);
    }
  }

  private async configure(): Promise<void> {
    // Exclusive locking before the first access keeps the WAL index in process memory: no -shm file on the
    // flash that would be rewritten on every transaction. Only the daemon opens the file; a second opener
    // gets SQLITE_BUSY instead of a chance to corrupt it.
    await this.exec('PRAGMA locking_mode = EXCLUSIVE');
    await this.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
    const mode = await this.rawGet<{ journal_mode: string }>('PRAGMA journal_mode = WAL', []);
    if (mode?.journal_mode !== 'wal') {
      throw new StoreError('store_open_failed', `store: ${this.file} refused WAL mode (got ${mode?.journal_mode})`);
    }
    await this.exec('PRAGMA synchronous = FULL');
    await this.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    await this.exec(`PRAGMA journal_size_limit = ${JOURNAL_SIZE_LIMIT_BYTES}`);
    await this.exec('PRAGMA trusted_schema = OFF');
    await this.exec(`PRAGMA cache_size = -${PAGE_CACHE_KIB}`);
  }

  /**
   * null when the file is structurally sound, else SQLite's first few complaints. A row that merely breaks a
   * CHECK or NOT NULL constraint (a hand edit) does not condemn the file, settings and binding included: the
   * row check on read names that row instead.
   */
  private async integrityProblems(): Promise<string | null> {
    const rows = await this.rawAll<{ integrity_check: string }>('PRAGMA integrity_check(20)', []);
    const problems = rows.map((r) => r.integrity_check).filter((p) => p !== 'ok' && !ROW_CONSTRAINT_COMPLAINT.test(p));
    return problems.length === 0 ? null : problems.slice(0, 5).join('; ');
  }

  /** What `sipa doctor` shows: the settings SQLite actually runs with. */
  storageInfo(): Promise<{ journalMode: string; synchronous: number; lockingMode: string; pageSize: number; schemaVersion: number }> {
    return this.read(async (q) => ({
      journalMode: (await q.get<{ journal_mode: string }>('PRAGMA journal_mode'))?.journal_mode ?? '',
      synchronous: (await q.get<{ synchronous: number }>('PRAGMA synchronous'))?.synchronous ?? -1,
      lockingMode: (await q.get<{ locking_mode: string }>('PRAGMA locking_mode'))?.locking_mode ?? '',
      pageSize: (await q.get<{ page_size: number }>('PRAGMA page_size'))?.page_size ?? 0,
      schemaVersion: (await q.get<{ user_version: number }>('PRAGMA user_version'))?.user_version ?? 0,
    }));
  }

  /** A read in the queue: it sees only committed data and never a write transaction's half-done state. */
  read<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    return this.enqueue(async () => {
      try {
        return await fn({ get: (s, p) => this.rawGet(s, p ?? []), all: (s, p) => this.rawAll(s, p ?? []) });
      } catch (err) {
        throw storeErrorFrom(err, 'store_read_failed', `store: reading ${this.file} failed`);
      }
    });
  }

  /**
   * One write transaction (BEGIN IMMEDIATE … COMMIT), durable when the promise resolves. On any failure it
   * is rolled back and only this caller sees the error; the queue carries on with the next one.
   * `beforeCommit` runs only if the transaction changed something (it stamps the wall clock).
   */
  write<T>(fn: (tx: Tx) => Promise<T>, beforeCommit?: (tx: Tx) => Promise<void>): Promise<T> {
    return this.enqueue(async () => {
      let changes = 0;
      const tx: Tx = {
        get: (s, p) => this.rawGet(s, p ?? []),
        all: (s, p) => this.rawAll(s, p ?? []),
        run: async (s, p) => {
          const r = await this.rawRun(s, p ?? []);
          changes += r.changes;
          return r;
        },
      };
      try {
        await this.rawRun('BEGIN IMMEDIATE', []).catch(async (err: Error) => {
          // A ROLLBACK that itself failed (I/O error) can leave the last transaction open; end it and go on.
          if (!/within a transaction/.test(err.message)) throw err;
          await this.rawRun('ROLLBACK', []);
          await this.rawRun('BEGIN IMMEDIATE', []);
        });
      } catch (err) {
        throw storeErrorFrom(err, 'store_write_failed', `store: writing ${this.file} failed`);
      }
      try {
        const result = await fn(tx);
        if (changes > 0 && beforeCommit) await beforeCommit(tx);
        await this.rawRun('COMMIT', []);
        return result;
      } catch (err) {
        // After an I/O error SQLite may already have rolled back; a failing ROLLBACK then changes nothing.
        await this.rawRun('ROLLBACK', []).catch(() => undefined);
        throw storeErrorFrom(err, 'store_write_failed', `store: writing ${this.file} failed`);
      }
    });
  }

  /** Waits for queued work, then closes; SQLite checkpoints the WAL into the file and removes it. */
  async close(): Promise<void> {
    if (this.closed) return;
    const drained = this.queue.catch(() => undefined);
    this.closed = true;
    await drained;
    await new Promise<void>((resolve, reject) =>
      this.handle.close((err) => (err ? reject(storeErrorFrom(err, 'store_write_failed', `store: closing ${this.file} failed`)) : resolve())),
    );
  }

  private async closeQuietly(): Promise<void> {
    this.closed = true;
    await new Promise<void>((resolve) => this.handle.close(() => resolve()));
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError('store_closed', `store: ${this.file} is closed`));
    const result = this.queue.then(job);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.handle.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  private rawRun(sql: string, params: SqlParams): Promise<{ changes: number; lastId: number }> {
    return new Promise((resolve, reject) =>
      this.handle.run(sql, params, function (err) {
        if (err) reject(err);
        else resolve({ changes: this.changes, lastId: this.lastID });
      }),
    );
  }

  private rawGet<T>(sql: string, params: SqlParams): Promise<T | undefined> {
    return new Promise((resolve, reject) =>
      this.handle.get<T>(sql, params, (err, row) => (err ? reject(err) : resolve(row))),
    );
  }

  private rawAll<T>(sql: string, params: SqlParams): Promise<T[]> {
    return new Promise((resolve, reject) =>
      this.handle.all<T>(sql, params, (err, rows) => (err ? reject(err) : resolve(rows))),
    );
  }
}

function openHandle(file: string): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const handle = new sqlite3.Database(file, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (err) =>
      err ? reject(err) : resolve(handle),
    );
  });
}

/**
 * Renames the damaged file (and its WAL) to sipa.db.corrupt-<UTC time>. Older corrupt copies are removed first:
 * the flash partition has room for about one spare copy, and the newest is the one worth looking at.
 */
function moveAside(file: string, at: number): string {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const stamp = new Date(at).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const movedTo = `${file}.corrupt-${stamp}`;
  try {
    for (const name of fs.readdirSync(dir)) {
      if (name.startsWith(`${base}.corrupt-`)) fs.rmSync(path.join(dir, name), { force: true });
    }
    fs.renameSync(file, movedTo);
    for (const suffix of ['-wal', '-shm']) {
      if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, movedTo + suffix);
    }
  } catch (err) {
    throw storeErrorFrom(err, 'store_open_failed', `store: cannot move damaged ${file} aside`);
  }
  return movedTo;
}
