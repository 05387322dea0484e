// Files of what the panel shows: local times in ISO 8601 with their offset (as on screen), the list's own words;
// CSV is RFC 4180 with a UTF-8 byte-order mark (format.ts).
import type { AuditEntry, Device } from './api';
import { actionText, actor, detailText, download, endedBy, isoLocal, stamp, stateText, termText, toCsv } from './format';

const t = (ms: number | null) => (ms === null ? null : isoLocal(ms));

export function saveDevices(kind: 'csv' | 'json', rows: Device[]): void {
  const name = `secure-ip-access-devices-${stamp()}.${kind}`;
  if (kind === 'json') {
    download(name, 'application/json', JSON.stringify({
      exportedAt: isoLocal(Date.now()),
      devices: rows.map(d => ({ ...d, registeredAt: t(d.registeredAt), expiresAt: d.state === 'active' ? t(d.expiresAt) : null, endedAt: t(d.endedAt) })),
    }, null, 2));
    return;
  }
  download(name, 'text/csv', toCsv(
    ['id', 'address', 'addresses', 'label', 'qnapId', 'source', 'term', 'registeredAt', 'endsAt', 'state', 'endedAt', 'endedBy', 'endReason'],
    rows.map(d => [d.id, d.address, d.addresses.join(' '), d.label, d.qnapId, d.source, termText(d), t(d.registeredAt), d.state === 'active' && d.policy === 'fixed' ? t(d.expiresAt) : null,
      stateText(d), t(d.endedAt), d.endedBy ? endedBy(d.endedBy) : null, d.endReason])));
}

export function saveAudit(kind: 'csv' | 'json', entries: AuditEntry[], filter: string): void {
  const name = `secure-ip-access-audit-${stamp()}.${kind}`;
  if (kind === 'json') {
    download(name, 'application/json', JSON.stringify({ exportedAt: isoLocal(Date.now()), filter: filter || null, entries: entries.map(a => ({ ...a, at: isoLocal(a.at) })) }, null, 2));
    return;
  }
  download(name, 'text/csv', toCsv(['id', 'at', 'who', 'action', 'deviceId', 'address', 'detail'],
    entries.map(a => [a.id, isoLocal(a.at), actor(a.surface, a.actor), actionText(a.action), a.deviceId, a.address, detailText(a)])));
}
