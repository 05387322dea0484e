import type { Actor, AuditEntry } from '../domain';
import type { Query, SqlValue, Tx } from './database';
import { StoreError } from './errors';
import { inputNonEmpty, inputTime, rowEnum, rowInt, rowIntOrNull, rowText, rowTextOrNull } from './validate';

/** What the caller says about a change; the store adds time, device and address. */
export interface AuditNote {
  actor: Actor;
  action: string;
  detail?: string;
}

export interface AuditRecord extends AuditNote {
  at: number;
  deviceId?: number | null;
  address?: string | null;
}

const SURFACES = ['cli', 'panel', 'portal', 'system'] as const;
const SELECT = 'SELECT audit.id, audit.at, actors.surface, actors.name AS actor, audit.action, audit.device_id, audit.address, audit.detail FROM audit JOIN actors ON actors.id = audit.actor_id';

interface AuditRow {
  id: unknown; at: unknown; surface: unknown; actor: unknown; action: unknown;
  device_id: unknown; address: unknown; detail: unknown;
}

function entryFromRow(row: AuditRow): AuditEntry {
  const t = 'audit';
  const id = rowInt(t, row.id, 'id', row.id);
  return {
    id,
    at: rowInt(t, id, 'at', row.at),
    surface: rowEnum(t, id, 'surface', row.surface, SURFACES),
    actor: rowText(t, id, 'actor', row.actor),
    action: rowText(t, id, 'action', row.action),
    deviceId: rowIntOrNull(t, id, 'device_id', row.device_id),
    address: rowTextOrNull(t, id, 'address', row.address),
    detail: rowText(t, id, 'detail', row.detail),
  };
}

export async function insertAudit(tx: Tx, r: AuditRecord): Promise<AuditEntry> {
  inputTime('audit time', r.at);
  inputNonEmpty('audit action', r.action);
  if (!SURFACES.includes(r.actor.surface)) throw new StoreError('invalid_input', `store: unknown surface ${JSON.stringify(r.actor.surface)}`);
  await tx.run('INSERT INTO actors (surface, name) VALUES (?, ?) ON CONFLICT (surface, name) DO NOTHING', [r.actor.surface, r.actor.name]);
  const res = await tx.run(
    `INSERT INTO audit (at, actor_id, action, device_id, address, detail)
     VALUES (?, (SELECT id FROM actors WHERE surface = ? AND name = ?), ?, ?, ?, ?)`,
    [r.at, r.actor.surface, r.actor.name, r.action, r.deviceId ?? null, r.address ?? null, r.detail ?? ''],
  );
  return {
    id: res.lastId, at: r.at, surface: r.actor.surface, actor: r.actor.name, action: r.action,
    deviceId: r.deviceId ?? null, address: r.address ?? null, detail: r.detail ?? '',
  };
}

/**
 * Newest first; `beforeId` continues a previous page. `text` keeps the entries whose actor, surface, action,
 * address or detail contains it (case-insensitive for ASCII, as SQLite's LIKE is).
 */
export async function listAudit(q: Query, limit: number, beforeId?: number, text?: string): Promise<AuditEntry[]> {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new StoreError('invalid_input', `store: audit limit must be a positive integer, got ${String(limit)}`);
  const where: string[] = [];
  const params: SqlValue[] = [];
  if (beforeId !== undefined) {
    where.push('audit.id < ?');
    params.push(beforeId);
  }
  if (text) {
    const like = `%${text.replace(/[\\%_]/g, c => `\\${c}`)}%`;
    const fields = ['actors.name', 'actors.surface', 'audit.action', 'audit.address', 'audit.detail'];
    where.push(`(${fields.map(f => `${f} LIKE ? ESCAPE '\\'`).join(' OR ')})`);
    params.push(...fields.map(() => like));
  }
  const rows = await q.all<AuditRow>(`${SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY audit.id DESC LIMIT ?`, [...params, limit]);
  return rows.map(entryFromRow);
}

/** Removes rows older than `before` and the oldest beyond the newest `maxRows`. */
export async function pruneAudit(tx: Tx, before: number, maxRows: number): Promise<number> {
  const r = await tx.run(
    `DELETE FROM audit WHERE at < ? OR id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?)`,
    [before, maxRows],
  );
  if (r.changes > 0) await tx.run('DELETE FROM actors WHERE id NOT IN (SELECT actor_id FROM audit)');
  return r.changes;
}

/** Bytes of pages in use (free pages excluded: SQLite reuses them before it grows the file). */
export async function usedBytes(q: Query): Promise<number> {
  const pages = (await q.get<{ page_count: number }>('PRAGMA page_count'))?.page_count ?? 0;
  const free = (await q.get<{ freelist_count: number }>('PRAGMA freelist_count'))?.freelist_count ?? 0;
  const size = (await q.get<{ page_size: number }>('PRAGMA page_size'))?.page_size ?? 0;
  return (pages - free) * size;
}

/** Removes the oldest tenth of the log; returns how many rows went. */
export async function pruneOldestAuditTenth(tx: Tx): Promise<number> {
  const r = await tx.run(
    `DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 10 FROM audit))`,
  );
  if (r.changes > 0) await tx.run('DELETE FROM actors WHERE id NOT IN (SELECT actor_id FROM audit)');
  return r.changes;
}
