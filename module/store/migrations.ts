import type { Database, Tx } from './database';
import { StoreError } from './errors';

/**
 * Numbered migrations; PRAGMA user_version holds the last one applied. Append only: a shipped migration is
 * never edited, a change is a new entry. Each runs in the same transaction as its version bump.
 */
export const MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  {
    version: 1,
    sql: `
      CREATE TABLE devices (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        address       TEXT    NOT NULL,
        family        INTEGER NOT NULL CHECK (family IN (4, 6)),
        prefix        INTEGER NOT NULL CHECK (prefix BETWEEN 0 AND 128),
        label         TEXT    NOT NULL DEFAULT '',
        qnap_id       TEXT,
        source        TEXT    NOT NULL CHECK (source IN ('local', 'portal')),
        policy        TEXT    NOT NULL CHECK (policy IN ('fixed', 'session')),
        session_id    TEXT,
        registered_at INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL,
        state         TEXT    NOT NULL CHECK (state IN ('active', 'expired', 'revoked')),
        ended_at      INTEGER,
        ended_by      TEXT,
        end_reason    TEXT
      );
      CREATE UNIQUE INDEX devices_one_active_per_address ON devices (address) WHERE state = 'active';
      CREATE INDEX devices_active_by_session ON devices (session_id) WHERE state = 'active' AND session_id IS NOT NULL;
      CREATE INDEX devices_ended ON devices (ended_at) WHERE state <> 'active';

      -- Who acted, stored once: on a 10,000-row log the repeated names would cost ~15 % of the flash budget.
      CREATE TABLE actors (
        id      INTEGER PRIMARY KEY,
        surface TEXT    NOT NULL,
        name    TEXT    NOT NULL,
        UNIQUE (surface, name)
      );
      -- No index on at: pruning by age scans 10,000 rows once a day, and the index would cost ~150 KiB.
      CREATE TABLE audit (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        at        INTEGER NOT NULL,
        actor_id  INTEGER NOT NULL REFERENCES actors (id),
        action    TEXT    NOT NULL,
        device_id INTEGER,
        address   TEXT,
        detail    TEXT    NOT NULL DEFAULT ''
      );

      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE portal_state (binding_id TEXT PRIMARY KEY, last_sequence INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    sql: `
      -- Rows that could not be read back (a hand edit, damage integrity_check cannot see) are moved here at
      -- start, as they were, so the rest is enforced and the admin can see what was set aside (sipa doctor).
      CREATE TABLE quarantine (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        at         INTEGER NOT NULL,
        from_table TEXT    NOT NULL,
        row_id     INTEGER,
        reason     TEXT    NOT NULL,
        row_json   TEXT    NOT NULL
      );
    `,
  },
  {
    version: 3,
    sql: `
      -- A portal registration of an address an admin registered locally is a row of its own beside the local
      -- one: the portal can neither change nor end what the admin gave. One active row per address and source.
      DROP INDEX devices_one_active_per_address;
      CREATE UNIQUE INDEX devices_one_active_per_address_source ON devices (address, source) WHERE state = 'active';
    `,
  },
  {
    version: 4,
    sql: `
      -- A device is registered with all its addresses (an IPv4 and a few IPv6): the first stays in address,
      -- the others are kept here, canonical, separated by spaces. A one-address row simply has none.
      ALTER TABLE devices ADD COLUMN extra_addresses TEXT NOT NULL DEFAULT ''
    `,
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version;

/** Applies what is missing; opens no write transaction when nothing is (so an unchanged open writes nothing). */
export async function migrate(db: Database): Promise<{ from: number; to: number }> {
  const from = await db.read((q) => currentVersion(q));
  if (from > SCHEMA_VERSION) {
    throw new StoreError('store_open_failed', `store: ${db.file} has schema version ${from}, newer than this build knows (${SCHEMA_VERSION}); install the newer package again`);
  }
  if (from === SCHEMA_VERSION) return { from, to: from };
  await db.write(async (tx) => {
    // Read again inside the write lock; the version cannot move under us, but this keeps the step honest.
    const start = await currentVersion(tx);
    for (const m of MIGRATIONS) {
      if (m.version <= start) continue;
      for (const statement of splitStatements(m.sql)) await tx.run(statement);
      await tx.run(`PRAGMA user_version = ${m.version}`);
    }
  });
  return { from, to: SCHEMA_VERSION };
}

async function currentVersion(q: Pick<Tx, 'get'>): Promise<number> {
  const row = await q.get<{ user_version: number }>('PRAGMA user_version');
  return row?.user_version ?? 0;
}

// sqlite3's run() executes one statement; the migrations hold no semicolons inside literals or triggers.
function splitStatements(sql: string): string[] {
  return sql.split(';').map((s) => s.trim()).filter((s) => s.length > 0);
}
