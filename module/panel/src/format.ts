// Text for people (times, durations, who did what) and files (CSV, JSON): one wording everywhere.
import type { AuditEntry, Device } from './api';

export function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Local date and time, e.g. "2025-11-25 17:42:07". */
export function dateTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** "17:42" today, "11-24 17:42" on another day. */
export function shortTime(ms: number): string {
  const d = new Date(ms);
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return d.toDateString() === new Date().toDateString() ? hm : `${two(d.getMonth() + 1)}-${two(d.getDate())} ${hm}`;
}

/** Local time in ISO 8601 with its UTC offset, as the screen shows it: "2025-11-25T17:42:07+01:00". */
export function isoLocal(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}${sign}${two(Math.floor(a / 60))}:${two(a % 60)}`;
}

/** Remaining time for a countdown: "1:05:09", "4:05", "0:07". */
export function clock(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

const unit = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

/** The same in words, for screen readers: "1 hour 5 minutes", "45 seconds". */
export function spoken(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts: string[] = [];
  if (h) parts.push(unit(h, 'hour'));
  if (m) parts.push(unit(m, 'minute'));
  if (!h && (s % 60 || !m)) parts.push(unit(s % 60, 'second'));
  return parts.join(' ');
}

/** A period for people: "2 h", "1 h 30 min", "15 min", "45 s". */
export function period(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const parts: string[] = [];
  if (h) parts.push(`${h} h`);
  if (m) parts.push(`${m} min`);
  if (rest && !h) parts.push(`${rest} s`);
  return parts.join(' ');
}

const SURFACES: Record<string, string> = { panel: 'panel', cli: 'CLI', portal: 'myQNAPcloud', system: 'system' };

/** Who acted, the same in the list, the details and the audit log: "admin (panel)", "root (CLI)". */
export function actor(surface: string, name: string): string {
  if (surface === 'system') return 'Secure IP Access';
  return `${name} (${SURFACES[surface] ?? surface})`;
}

/** Device.endedBy is "surface:name" (the engine's form); shown as actor() shows it. */
export function endedBy(text: string | null): string {
  if (!text) return '';
  const i = text.indexOf(':');
  return i > 0 ? actor(text.slice(0, i), text.slice(i + 1)) : text;
}

/** A portal sign-out ends a session device: the portal calls it "ended", not revoked. */
export function signedOut(d: Device): boolean {
  return d.state === 'revoked' && d.policy === 'session' && (d.endedBy ?? '').startsWith('portal:') && /signed out/i.test(d.endReason ?? '');
}

/** "Active", "Expired", "Revoked", "Ended: signed out". */
export function stateText(d: Device): string {
  if (d.state === 'active') return 'Active';
  if (d.state === 'expired') return 'Expired';
  return signedOut(d) ? 'Ended: signed out' : 'Revoked';
}

/** How long a registration was for: "for 2 h", "until sign-out" for a portal session, "until revoked". */
export function termText(d: Device): string {
  if (d.policy === 'session') return 'until sign-out';
  if (d.expiresAt === null) return 'until revoked';
  return `for ${period((d.expiresAt - d.registeredAt) / 1000)}`;
}

/** "until 17:42", or "until revoked". */
export function untilText(d: Device): string {
  return d.expiresAt === null ? 'until revoked' : `until ${shortTime(d.expiresAt)}`;
}

/** A device in a sentence: "203.0.113.7 (Ana’s laptop)". */
export function describe(d: Device): string {
  return d.label ? `${d.address} (${d.label})` : d.address;
}

const ACTIONS: Record<string, string> = {
  register: 'registered', renew: 'renewed', revoke: 'revoked', expire: 'expired', enable: 'enabled', disable: 'disabled',
  bind: 'linked to a QNAP ID', unbind: 'unlinked', lease: 'session renewed', 'add-address': 'address added',
  'register-batch': 'registered (batch)', repaired: 'firewall repaired', quarantine: 'record set aside',
};

export function actionText(action: string): string {
  return ACTIONS[action] ?? action;
}

/** The engine's audit details ("fixed 7200s", "session s-1 lease 180s; …") in the words of the list. */
export function detailText(a: Pick<AuditEntry, 'action' | 'detail'>): string {
  let t = a.detail;
  t = t.replace(/^fixed (\d+)s\b/, (_, s: string) => `for ${period(Number(s))}`);
  t = t.replace(/^session \S+ lease \d+s\b/, 'until sign-out');
  if (a.action === 'lease') t = t.replace(/^(\d+)s$/, 'still signed in');
  return t.replace(/\b(\d+)s\b/g, (_, s: string) => period(Number(s)));
}

/** RFC 4180 CSV. Cells that a spreadsheet would run as a formula get a leading apostrophe. */
export function toCsv(header: string[], rows: Array<Array<string | number | null>>): string {
  const cell = (v: string | number | null) => {
    let t = v === null ? '' : String(v);
    if (/^[=+\-@\t\r]/.test(t)) t = `'${t}`;
    return /[",\n\r]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  return [header, ...rows].map(r => r.map(cell).join(',')).join('\r\n') + '\r\n';
}

/** Saves a file; CSV starts with a UTF-8 byte-order mark so spreadsheets read non-ASCII labels right. */
export function download(name: string, type: string, text: string): void {
  const bom = type === 'text/csv' ? '\uFEFF' : '';
  const url = URL.createObjectURL(new Blob([bom + text], { type: `${type};charset=utf-8` }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function stamp(ms = Date.now()): string {
  const d = new Date(ms);
  return `${d.getFullYear()}${two(d.getMonth() + 1)}${two(d.getDate())}-${two(d.getHours())}${two(d.getMinutes())}${two(d.getSeconds())}`;
}

/** Service messages are lower-case clauses ("revoke: no device 42"); shown alone they read as sentences. */
export function sentence(text: string): string {
  const t = text.trim();
  return t ? t[0].toUpperCase() + t.slice(1) + (/[.!?)]$/.test(t) ? '' : '.') : t;
}
