// Plain-text tables and times for people; --json gives the same data for scripts.
import { formatDuration } from '../domain/duration';
import type { AuditEntry, Device, RuntimeSupport, Status } from '../engine';

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function remaining(device: Device, now = Date.now()): string {
  if (device.state !== 'active') return '-';
  if (device.expiresAt === null) return 'until revoked';
  const s = Math.max(0, Math.ceil((device.expiresAt - now) / 1000));
  return formatDuration(s);
}

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

export function devicesTable(devices: Device[]): string {
  if (devices.length === 0) return 'no devices';
  return table(
    ['ID', 'ADDRESS', 'STATE', 'LEFT', 'POLICY', 'SOURCE', 'QNAP ID', 'LABEL', 'REGISTERED'],
    devices.map(d => [String(d.id), d.addresses.join(' '), d.state, remaining(d), policyText(d),
      d.source, d.qnapId ?? '-', d.label || '-', iso(d.registeredAt)]),
  );
}

/** How the registration ends: "fixed", "session S1", "until revoked". */
export function policyText(d: Device): string {
  return d.policy === 'session' ? `session ${d.sessionId}` : d.policy === 'until-revoked' ? 'until revoked' : 'fixed';
}

export function auditTable(entries: AuditEntry[]): string {
  if (entries.length === 0) return 'no audit entries';
  return table(['ID', 'AT', 'WHO', 'ACTION', 'DEVICE', 'DETAIL'],
    entries.map(e => [String(e.id), iso(e.at), `${e.surface}:${e.actor}`, e.action, e.address ?? (e.deviceId === null ? '-' : String(e.deviceId)), e.detail]));
}

/** The runtime in one line: supported until when, or past its end of life (module/cli/runtime-support.ts). */
export function runtimeText(r: RuntimeSupport): string {
  if (r.endOfLife === null) return `Node.js ${r.node} (its end of life is not known to this version)`;
  return r.pastEndOfLife
    ? `Node.js ${r.node}, PAST ITS END OF LIFE (${r.endOfLife}): no security fixes any more (see the package's README)`
    : `Node.js ${r.node}, supported until ${r.endOfLife}`;
}

export function statusText(s: Status): string {
  return [
    `Secure IP Access ${s.version}`,
    `  enabled:        ${s.enabled ? 'yes' : 'no'}${s.enabled && !s.enforcing ? ' (NOT enforcing: see sipa doctor)' : ''}`,
    `  active devices: ${s.activeDevices}`,
    `  LAN (exempt):   ${s.lanNetworks.join(', ') || '-'}`,
    `  until revoked:  ${s.allowUntilRevoked ? 'allowed (policy.allowUntilRevoked)' : 'not allowed (policy.allowUntilRevoked is false)'}`,
    `  clock trusted:  ${s.clockTrusted ? 'yes' : `no: ${s.clockNote ?? 'timed entries were revoked at start'}`}`,
    `  portal:         ${!s.portal.configured ? 'none configured (standalone: local registrations only)' : `${s.portal.bound ? 'bound' : 'not bound (sipa bind)'}, ${s.portal.connected ? 'connected' : 'not connected'}`}`,
    ...(s.storeRecovered ? [`  STORE RECOVERED: ${s.storeRecovered}`] : []),
    ...(s.storageFull ? [`  STORAGE FULL: ${s.storageFull}`] : []),
    ...(s.quarantinedRows ? [`  QUARANTINED: ${s.quarantinedRows} unreadable device row(s) set aside at start (sipa doctor lists them)`] : []),
    ...(s.unrecordedEnds ? [`  NOT YET RECORDED: ${s.unrecordedEnds} ended device(s) (access has ended; the store write is retried)`] : []),
    ...(s.runtime ? [`  ${s.runtime.pastEndOfLife ? 'RUNTIME' : 'runtime'}:        ${runtimeText(s.runtime)}`] : []),
  ].join('\n');
}
