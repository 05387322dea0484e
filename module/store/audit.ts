import type { Actor, AuditEntry } from '../engine/contract';
import type { Query, Tx } from './database';
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
const COLUMNS = 'id, at, surface, actor, action, device_id, address, detail';

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
  const res = await tx.run(
    `INSERT INTO audit (at, surface, actor, action, device_id, address, detail) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    [r.at, r.actor.surface, r.actor.name, r.action, r.deviceId ?? null, r.address ?? null, r.detail ?? ''],
  );
  return {
    id: res.lastId, at: r.at, surface: r.actor.surface, actor: r.actor.name, action: r.action,
    deviceId: r.deviceId ?? null, address: r.address ?? null, detail: r.detail ?? '',
  };
}

/** Newest first; `beforeId` continues a previous page. */
export async function listAudit(q: Query, limit: number, beforeId?: number): Promise<AuditEntry[]> {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new StoreError('invalid_input', `store: audit limit must be a positive integer, got ${String(limit)}`);
  const rows = beforeId === undefined
    ? await q.all<AuditRow>(`SELECT ${COLUMNS} FROM audit ORDER BY id DESC LIMIT ?`, [limit])
    : await q.all<AuditRow>(`SELECT ${COLUMNS} FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?`, [beforeId, limit]);
  return rows.map(entryFromRow);
}

/** Removes rows older than `before` and the oldest beyond the newest `maxRows`. */
export async function pruneAudit(tx: Tx, before: number, maxRows: number): Promise<number> {
  const r = await tx.run(
    `DELETE FROM audit WHERE at < ? OR id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?)`,
    [before, maxRows],
  );
  return r.changes;
}
