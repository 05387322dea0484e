import type { Actor, Device, DeviceSource, DeviceState } from '../domain';
import type { Query, Tx } from './database';
import { StoreError } from './errors';
import { inputId, inputNonEmpty, inputTime, rowEnum, rowInt, rowIntOrNull, rowNull, rowText, rowTextOrNull } from './validate';

/** What a registration stores: the address is already canonical (domain/ normalises it), and a session id is
 * required for policy 'session'. */
export type DeviceFields = Pick<Device, 'address' | 'family' | 'prefix' | 'label' | 'qnapId' | 'source' | 'policy' | 'sessionId' | 'expiresAt'> & {
  /** Canonical addresses besides `address` (none for a one-address device). */
  extraAddresses?: readonly string[];
};

export interface DeviceEnd {
  at: number;
  by: Actor;
  reason: string;
}

export type EndedState = Exclude<DeviceState, 'active'>;

const COLUMNS =
  'id, address, family, prefix, label, qnap_id, source, policy, session_id, registered_at, expires_at, state, ended_at, ended_by, end_reason, extra_addresses';

interface DeviceRow {
  id: unknown; address: unknown; family: unknown; prefix: unknown; label: unknown; qnap_id: unknown;
  source: unknown; policy: unknown; session_id: unknown; registered_at: unknown; expires_at: unknown;
  state: unknown; ended_at: unknown; ended_by: unknown; end_reason: unknown; extra_addresses: unknown;
}

export function deviceFromRow(row: DeviceRow): Device {
  const t = 'devices';
  const id = rowInt(t, row.id, 'id', row.id);
  const family = rowInt(t, id, 'family', row.family);
  if (family !== 4 && family !== 6) throw new StoreError('store_row_invalid', `store: devices row ${id}: unknown family ${family}`);
  const address = rowText(t, id, 'address', row.address);
  const extra = rowText(t, id, 'extra_addresses', row.extra_addresses);
  const policy = rowEnum(t, id, 'policy', row.policy, ['fixed', 'session', 'until-revoked'] as const);
  // Only a registration until revoked has no end; a timed one without an end would never be booked as expired.
  const expiresAt = policy === 'until-revoked' ? rowNull(t, id, 'expires_at', row.expires_at) : rowInt(t, id, 'expires_at', row.expires_at);
  return {
    id,
    address,
    addresses: [address, ...extra.split(' ').filter(Boolean)],
    family,
    prefix: rowInt(t, id, 'prefix', row.prefix),
    label: rowText(t, id, 'label', row.label),
    qnapId: rowTextOrNull(t, id, 'qnap_id', row.qnap_id),
    source: rowEnum(t, id, 'source', row.source, ['local', 'portal'] as const),
    policy,
    sessionId: rowTextOrNull(t, id, 'session_id', row.session_id),
    registeredAt: rowInt(t, id, 'registered_at', row.registered_at),
    expiresAt,
    state: rowEnum(t, id, 'state', row.state, ['active', 'expired', 'revoked'] as const),
    endedAt: rowIntOrNull(t, id, 'ended_at', row.ended_at),
    endedBy: rowTextOrNull(t, id, 'ended_by', row.ended_by),
    endReason: rowTextOrNull(t, id, 'end_reason', row.end_reason),
  };
}

export function actorText(actor: Actor): string {
  return `${actor.surface}:${actor.name}`;
}

export async function getDevice(q: Query, id: number): Promise<Device | null> {
  const row = await q.get<DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE id = ?`, [id]);
  return row ? deviceFromRow(row) : null;
}

/** The active row of an address registered from `source`; without `source`, every active row of it. */
export async function findActiveByAddress(q: Query, address: string, source: DeviceSource): Promise<Device | null> {
  const row = await q.get<DeviceRow>(`SELECT ${COLUMNS} FROM devices WHERE address = ? AND source = ? AND state = 'active'`, [address, source]);
  return row ? deviceFromRow(row) : null;
}

/** Every active device that has `address` among its addresses. */
export async function activeRowsOfAddress(q: Query, address: string): Promise<Device[]> {
  const rows = await q.all<DeviceRow>(
    `SELECT ${COLUMNS} FROM devices WHERE state = 'active' AND (address = ? OR instr(' ' || extra_addresses || ' ', ' ' || ? || ' ') > 0) ORDER BY id`,
    [address, address],
  );
  return rows.map(deviceFromRow);
}

export async function listDevices(q: Query, all: boolean): Promise<Device[]> {
  const where = all ? '' : "WHERE state = 'active'";
  const rows = await q.all<DeviceRow>(`SELECT ${COLUMNS} FROM devices ${where} ORDER BY id`);
  return rows.map(deviceFromRow);
}

/** Devices (active, or all) with an id above `afterId`, at most `limit`, by id. */
export async function devicesPage(q: Query, all: boolean, afterId: number, limit: number): Promise<Device[]> {
  const rows = await q.all<DeviceRow>(
    `SELECT ${COLUMNS} FROM devices WHERE id > ? ${all ? '' : "AND state = 'active'"} ORDER BY id LIMIT ?`,
    [afterId, limit],
  );
  return rows.map(deviceFromRow);
}

/** A stored row that does not read back as a device: its id, why, and the row as stored. */
export interface UnreadableRow {
  rowId: number;
  reason: string;
  row: Record<string, unknown>;
}

/**
 * Rows with an id above `afterId` that are active or unreadable (a row whose state cannot be read could be an
 * active one), at most `limit` of them, by id; each either read as a device or set aside as unreadable.
 */
export async function activeDevicesPage(q: Query, afterId: number, limit: number): Promise<{ devices: Device[]; unreadable: UnreadableRow[]; lastId: number | null }> {
  const rows = await q.all<DeviceRow>(
    `SELECT ${COLUMNS} FROM devices WHERE state NOT IN ('expired', 'revoked') AND id > ? ORDER BY id LIMIT ?`,
    [afterId, limit],
  );
  const page = { devices: [] as Device[], unreadable: [] as UnreadableRow[], lastId: null as number | null };
  for (const row of rows) {
    page.lastId = Number(row.id);
    try {
      page.devices.push(deviceFromRow(row));
    } catch (err) {
      if (!(err instanceof StoreError) || err.code !== 'store_row_invalid') throw err;
      page.unreadable.push({ rowId: Number(row.id), reason: err.message, row: { ...row } as Record<string, unknown> });
    }
  }
  return page;
}

/** Moves unreadable rows out of `devices` into `quarantine`, as they were. */
export async function quarantineRows(tx: Tx, rows: readonly UnreadableRow[], at: number): Promise<void> {
  for (const r of rows) {
    await tx.run('INSERT INTO quarantine (at, from_table, row_id, reason, row_json) VALUES (?, ?, ?, ?, ?)', [at, 'devices', r.rowId, r.reason, JSON.stringify(r.row)]);
    await tx.run('DELETE FROM devices WHERE id = ?', [r.rowId]);
  }
}

export async function listQuarantine(q: Query): Promise<Array<{ at: number; rowId: number | null; reason: string; row: string }>> {
  const rows = await q.all<{ at: number; row_id: number | null; reason: string; row_json: string }>('SELECT at, row_id, reason, row_json FROM quarantine ORDER BY id');
  return rows.map((r) => ({ at: r.at, rowId: r.row_id, reason: r.reason, row: r.row_json }));
}

/** The session's active devices; with `source`, only those registered from there. */
export async function activeDevicesOfSession(q: Query, sessionId: string, source: DeviceSource | null = null): Promise<Device[]> {
  const rows = await q.all<DeviceRow>(
    `SELECT ${COLUMNS} FROM devices WHERE session_id = ? AND state = 'active' AND (? IS NULL OR source = ?) ORDER BY id`,
    [sessionId, source, source],
  );
  return rows.map(deviceFromRow);
}

/**
 * Inserts, or renews the active row of the same address and source in place (same id). A local and a portal
 * registration of one address are two rows: neither surface changes the other's.
 */
export async function registerDevice(tx: Tx, f: DeviceFields, now: number): Promise<{ device: Device; renewed: boolean }> {
  checkFields(f);
  const existing = await findActiveByAddress(tx, f.address, f.source);
  let id: number;
  if (existing) {
    id = existing.id;
    await tx.run(
      `UPDATE devices SET label = ?, qnap_id = ?, source = ?, policy = ?, session_id = ?, expires_at = ?, extra_addresses = ? WHERE id = ?`,
      [f.label, f.qnapId, f.source, f.policy, f.sessionId, f.expiresAt, extraText(f), id],
    );
  } else {
    const r = await tx.run(
      `INSERT INTO devices (address, family, prefix, label, qnap_id, source, policy, session_id, registered_at, expires_at, state, extra_addresses)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)`,
      [f.address, f.family, f.prefix, f.label, f.qnapId, f.source, f.policy, f.sessionId, now, f.expiresAt, extraText(f)],
    );
    id = r.lastId;
  }
  const device = await getDevice(tx, id);
  if (!device) throw new StoreError('store_write_failed', `store: device ${id} vanished inside its own transaction`);
  return { device, renewed: existing !== null };
}

/**
 * Registers many in a few set-based statements (a batch of 65,536 would otherwise be 260,000 round trips to
 * SQLite's thread): renews the active rows of the same address and source in place, inserts the rest, and
 * returns every resulting row, in the order given. Addresses must be unique per source within the batch.
 */
export async function registerDevices(tx: Tx, fields: readonly DeviceFields[], now: number): Promise<{ devices: Device[]; renewed: number }> {
  for (const f of fields) checkFields(f);
  const json = JSON.stringify(fields.map((f) => [f.address, f.family, f.prefix, f.label, f.qnapId, f.source, f.policy, f.sessionId, f.expiresAt, extraText(f)]));
  const items = `SELECT value->>0 AS address, value->>1 AS family, value->>2 AS prefix, value->>3 AS label, value->>4 AS qnap_id,
    value->>5 AS source, value->>6 AS policy, value->>7 AS session_id, value->>8 AS expires_at, value->>9 AS extra_addresses, key AS pos FROM json_each(?)`;
  const renewed = await tx.run(
    `UPDATE devices SET label = j.label, qnap_id = j.qnap_id, policy = j.policy, session_id = j.session_id, expires_at = j.expires_at,
       extra_addresses = j.extra_addresses
     FROM (${items}) AS j WHERE devices.address = j.address AND devices.source = j.source AND devices.state = 'active'`,
    [json],
  );
  await tx.run(
    `INSERT INTO devices (address, family, prefix, label, qnap_id, source, policy, session_id, registered_at, expires_at, state, extra_addresses)
     SELECT j.address, j.family, j.prefix, j.label, j.qnap_id, j.source, j.policy, j.session_id, ?, j.expires_at, 'active', j.extra_addresses
     FROM (${items}) AS j
     WHERE NOT EXISTS (SELECT 1 FROM devices d WHERE d.address = j.address AND d.source = j.source AND d.state = 'active')
     ORDER BY j.pos`,
    [now, json],
  );
  const rows = await tx.all<DeviceRow>(
    `SELECT ${COLUMNS.split(', ').map((c) => `d.${c}`).join(', ')} FROM (${items}) AS j
     JOIN devices d ON d.address = j.address AND d.source = j.source AND d.state = 'active' ORDER BY j.pos`,
    [json],
  );
  if (rows.length !== fields.length) throw new StoreError('invalid_input', `store: a batch must not name one address twice for one source (${fields.length} items, ${rows.length} rows)`);
  return { devices: rows.map(deviceFromRow), renewed: renewed.changes };
}

/** Ends those of `ids` that are still active, in one statement; the others are left as they are and not returned. */
export async function endActiveDevices(tx: Tx, ids: readonly number[], to: EndedState, end: DeviceEnd): Promise<Device[]> {
  if (to !== 'expired' && to !== 'revoked') throw new StoreError('invalid_input', `store: cannot end a device as ${JSON.stringify(to)}`);
  inputTime('end time', end.at);
  const unique = [...new Set(ids)];
  for (const id of unique) inputId('device id', id);
  const rows = await tx.all<DeviceRow>(
    `UPDATE devices SET state = ?, ended_at = ?, ended_by = ?, end_reason = ?
     WHERE id IN (SELECT value FROM json_each(?)) AND state = 'active' RETURNING ${COLUMNS}`,
    [to, end.at, actorText(end.by), end.reason, JSON.stringify(unique)],
  );
  const order = new Map(unique.map((id, i) => [id, i]));
  return rows.map(deviceFromRow).sort((a, b) => order.get(a.id)! - order.get(b.id)!);
}

/** Moves the lease of every active device of the session; unchanged ones are not rewritten. */
export async function extendSession(tx: Tx, sessionId: string, expiresAt: number, source: DeviceSource | null = null): Promise<Device[]> {
  inputNonEmpty('session id', sessionId);
  inputTime('expiry', expiresAt);
  await tx.run(
    `UPDATE devices SET expires_at = ? WHERE session_id = ? AND state = 'active' AND expires_at <> ? AND (? IS NULL OR source = ?)`,
    [expiresAt, sessionId, expiresAt, source, source],
  );
  return activeDevicesOfSession(tx, sessionId, source);
}

export async function deleteEndedBefore(tx: Tx, before: number): Promise<number> {
  const r = await tx.run(`DELETE FROM devices WHERE state <> 'active' AND ended_at < ?`, [before]);
  return r.changes;
}

function extraText(f: DeviceFields): string {
  return (f.extraAddresses ?? []).join(' ');
}

/** Adds addresses to an active device (seen from a new address during its session); its expiry stays. */
export async function addAddresses(tx: Tx, id: number, addresses: readonly string[]): Promise<Device | null> {
  const device = await getDevice(tx, id);
  if (!device || device.state !== 'active') return null;
  const extra = [...device.addresses.slice(1), ...addresses.filter((a) => !device.addresses.includes(a))];
  for (const a of extra) inputNonEmpty('address', a);
  await tx.run('UPDATE devices SET extra_addresses = ? WHERE id = ?', [extra.join(' '), id]);
  return getDevice(tx, id);
}

function checkFields(f: DeviceFields): void {
  for (const a of f.extraAddresses ?? []) {
    if (typeof a !== 'string' || a === '' || /\s/.test(a) || a === f.address) throw new StoreError('invalid_input', `store: extra address ${JSON.stringify(a)} of ${f.address} is not a single other address`);
  }
  inputNonEmpty('address', f.address);
  if (f.family !== 4 && f.family !== 6) throw new StoreError('invalid_input', `store: family must be 4 or 6, got ${String(f.family)}`);
  const max = f.family === 4 ? 32 : 128;
  if (!Number.isInteger(f.prefix) || f.prefix < 0 || f.prefix > max) {
    throw new StoreError('invalid_input', `store: prefix of ${f.address} must be 0..${max}, got ${String(f.prefix)}`);
  }
  if (f.source !== 'local' && f.source !== 'portal') throw new StoreError('invalid_input', `store: unknown source ${JSON.stringify(f.source)}`);
  if (f.policy !== 'fixed' && f.policy !== 'session' && f.policy !== 'until-revoked') throw new StoreError('invalid_input', `store: unknown policy ${JSON.stringify(f.policy)}`);
  if (f.policy === 'session' && !f.sessionId) {
    throw new StoreError('invalid_input', `store: a session registration of ${f.address} needs a session id`);
  }
  if (f.policy === 'until-revoked') {
    if (f.expiresAt !== null) throw new StoreError('invalid_input', `store: a registration of ${f.address} until revoked has no expiry, got ${String(f.expiresAt)}`);
  } else inputTime('expiry', f.expiresAt as number);
}
