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
  {
    version: 5,
    sql: `
      -- A registration may last until it is revoked (policy.allowUntilRevoked): policy 'until-revoked', no
      -- expires_at. SQLite changes a CHECK only by building the table anew (sqlite.org/lang_altertable.html,
      -- "Making Other Kinds Of Table Schema Changes"): a new table, the rows copied, the old one dropped, the new
      -- one renamed, the indexes made again.
      CREATE TABLE devices_v5 (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        address         TEXT    NOT NULL,
        family          INTEGER NOT NULL CHECK (family IN (4, 6)),
        prefix          INTEGER NOT NULL CHECK (prefix BETWEEN 0 AND 128),
        label           TEXT    NOT NULL DEFAULT '',
        qnap_id         TEXT,
        source          TEXT    NOT NULL CHECK (source IN ('local', 'portal')),
        policy          TEXT    NOT NULL CHECK (policy IN ('fixed', 'session', 'until-revoked')),
        session_id      TEXT,
        registered_at   INTEGER NOT NULL,
        expires_at      INTEGER CHECK ((expires_at IS NULL) = (policy = 'until-revoked')),
        state           TEXT    NOT NULL CHECK (state IN ('active', 'expired', 'revoked')),
        ended_at        INTEGER,
        ended_by        TEXT,
        end_reason      TEXT,
        extra_addresses TEXT    NOT NULL DEFAULT ''
      );
      -- A row that breaks the constraints (a hand edit made with the checks off) would fail the copy and with it
      -- the whole store: it goes to quarantine as it was, as an unreadable row does at start.
      INSERT INTO quarantine (at, from_table, row_id, reason, row_json)
        SELECT CAST(unixepoch('subsec') * 1000 AS INTEGER), 'devices', id,
          'store: devices row ' || id || ': breaks the table''s constraints (set aside by the schema 5 upgrade)',
          json_object('id', id, 'address', address, 'family', family, 'prefix', prefix, 'label', label, 'qnap_id', qnap_id,
            'source', source, 'policy', policy, 'session_id', session_id, 'registered_at', registered_at, 'expires_at', expires_at,
            'state', state, 'ended_at', ended_at, 'ended_by', ended_by, 'end_reason', end_reason, 'extra_addresses', extra_addresses)
        FROM devices
        WHERE NOT coalesce(address IS NOT NULL AND family IN (4, 6) AND prefix BETWEEN 0 AND 128 AND label IS NOT NULL
          AND source IN ('local', 'portal') AND policy IN ('fixed', 'session') AND registered_at IS NOT NULL
          AND expires_at IS NOT NULL AND state IN ('active', 'expired', 'revoked') AND extra_addresses IS NOT NULL, 0);
      INSERT INTO devices_v5 (id, address, family, prefix, label, qnap_id, source, policy, session_id, registered_at, expires_at, state, ended_at, ended_by, end_reason, extra_addresses)
        SELECT id, address, family, prefix, label, qnap_id, source, policy, session_id, registered_at, expires_at, state, ended_at, ended_by, end_reason, extra_addresses
        FROM devices
        WHERE coalesce(address IS NOT NULL AND family IN (4, 6) AND prefix BETWEEN 0 AND 128 AND label IS NOT NULL
          AND source IN ('local', 'portal') AND policy IN ('fixed', 'session') AND registered_at IS NOT NULL
          AND expires_at IS NOT NULL AND state IN ('active', 'expired', 'revoked') AND extra_addresses IS NOT NULL, 0)
        ORDER BY id;
      -- Ids are never given twice (the audit log names devices by id): the new table continues the old count.
      DELETE FROM sqlite_sequence WHERE name = 'devices_v5';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'devices_v5', seq FROM sqlite_sequence WHERE name = 'devices';
      DROP TABLE devices;
      ALTER TABLE devices_v5 RENAME TO devices;
      CREATE UNIQUE INDEX devices_one_active_per_address_source ON devices (address, source) WHERE state = 'active';
      CREATE INDEX devices_active_by_session ON devices (session_id) WHERE state = 'active' AND session_id IS NOT NULL;
      CREATE INDEX devices_ended ON devices (ended_at) WHERE state <> 'active';
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
