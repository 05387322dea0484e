// One device on screen: a table row (with its details row) or a card, built from an entry of the book.
import type { Device } from './api';
import type { Entry } from './book';
import { h } from './dom';
import { clock, dateTime, endedBy, shortTime, signedOut, spoken, stateText, termText } from './format';
import { formatAddress, parseDeviceAddress } from '../../domain';

/** A fixed registration is "soon" in its last minute (amber, announced once). */
export const SOON_MS = 60_000;

/** What a row needs from the panel: how to show it and what its buttons do. */
export interface RowContext {
  /** Prefix for ids unique to this panel. */
  pid: string;
  /** The admin's own connection relies on it. */
  own: boolean;
  /** The service cannot vouch for it now: its buttons do nothing. */
  stale: boolean;
  expanded: boolean;
  /** IPv6 registrations allow their /64. */
  ipv6Net: boolean;
  toggle(): void;
  extend(d: Device, opener: HTMLElement): void;
  revoke(e: Entry, opener: HTMLElement): void;
}

export function sourceText(d: Device): string {
  return d.source === 'portal' ? `myQNAPcloud${d.qnapId ? `, ${d.qnapId}` : ''}` : 'Local (an administrator)';
}

/** What the kernel allows for one address: "2001:db8:1:2::/64 — this device's network (seen from …)". */
export function allowedText(address: string, ipv6Net: boolean): string {
  if (!address.includes(':') || address.includes('/')) return address;
  if (!ipv6Net) return `${address} — this address only`;
  try {
    const a = parseDeviceAddress(address, { allowPrefixes: true });
    const bytes = new Uint8Array(a.bytes);
    bytes.fill(0, 8);
    return `${formatAddress(6, bytes, 64)} — this device's network (seen from ${address})`;
  } catch {
    return address;
  }
}

function cssId(key: string): string {
  return key.replace(/[^a-zA-Z0-9_-]/g, '_');
}

function timer(d: Device): HTMLElement {
  if (d.state !== 'active') return h('span', { class: 'muted', text: '—' });
  if (d.policy === 'session') return h('span', { class: 'session', text: 'until sign-out' });
  if (d.expiresAt === null) return h('span', { class: 'session', text: 'until revoked' });
  const left = d.expiresAt - Date.now();
  return h('span', { role: 'timer', 'data-expires': String(d.expiresAt), 'aria-label': `${spoken(left)} left`, text: left > 0 ? clock(left) : 'ending…' });
}

function statusCell(d: Device): HTMLElement[] {
  const badge = h('span', { class: `badge ${signedOut(d) ? 'expired' : d.state}`, text: stateText(d) });
  if (d.state === 'active' || !d.endedAt) return [badge];
  return [badge, h('div', { class: 'sub', text: `${shortTime(d.endedAt)}${d.endedBy && d.state === 'revoked' ? ` by ${endedBy(d.endedBy)}` : ''}` })];
}

function actions(e: Entry, c: RowContext): HTMLElement[] {
  const d = e.current;
  if (d.state !== 'active') return [];
  const out: HTMLElement[] = [];
  const dis = c.stale ? 'true' : undefined;
  if (d.source === 'local' && d.policy === 'fixed') {
    out.push(h('button', { class: 'btn small', type: 'button', 'data-key': `extend-${e.key}`, 'aria-disabled': dis, 'aria-label': `Extend ${d.address}`, text: 'Extend', onclick: (ev: Event) => c.extend(d, ev.currentTarget as HTMLElement) }));
  }
  out.push(h('button', { class: 'btn danger small', type: 'button', 'data-role': 'revoke', 'data-key': `revoke-${e.key}`, 'aria-disabled': dis, 'aria-label': `Revoke Request for ${d.address}`, text: 'Revoke Request', onclick: (ev: Event) => c.revoke(e, ev.currentTarget as HTMLElement) }));
  return out;
}

function toggleButton(e: Entry, c: RowContext): HTMLButtonElement {
  return h('button', { class: 'disclose', type: 'button', 'data-key': `details-${e.key}`, 'aria-expanded': String(c.expanded), 'aria-controls': `${c.pid}-d-${cssId(e.key)}`, 'aria-label': `Details for ${e.current.address}`, title: 'Details and history', onclick: () => c.toggle() },
    h('span', { 'aria-hidden': 'true', class: 'chev' }));
}

function addressBlock(e: Entry, c: RowContext): HTMLElement {
  const d = e.current;
  const more = d.addresses.length - 1;
  return h('div', { class: 'addr-cell' }, toggleButton(e, c), h('span', { class: 'addr-text' },
    h('span', { class: 'mono addr', text: d.address }),
    more > 0 ? h('span', { class: 'sub more', text: ` +${more}`, title: d.addresses.slice(1).join(' ') }) : null,
    c.own ? h('span', { class: 'badge you', text: 'This is you' }) : null));
}

function rowClass(d: Device, own: boolean): string {
  const active = d.state === 'active';
  const soon = active && d.policy === 'fixed' && d.expiresAt !== null && d.expiresAt - Date.now() <= SOON_MS;
  return `${active ? (soon ? 'soon' : '') : 'ended'}${own ? ' you' : ''}`;
}

/** A table row, and its details row when expanded. */
export function tableRow(e: Entry, c: RowContext): HTMLElement[] {
  const d = e.current;
  const label = d.label || '—';
  const tr = h('tr', { class: rowClass(d, c.own), 'data-key': e.key },
    h('th', { scope: 'row', 'data-key': `row-${e.key}`, tabindex: '-1' }, addressBlock(e, c)),
    h('td', { class: 'trunc', title: label, text: label }),
    h('td', { class: 'col-opt trunc', title: sourceText(d) }, h('span', { text: d.source === 'portal' ? 'myQNAPcloud' : 'Local' }), d.qnapId ? h('div', { class: 'sub trunc', title: d.qnapId, text: d.qnapId }) : null),
    h('td', { class: 'col-opt', text: termText(d) }),
    h('td', { class: 'num' }, timer(d)),
    h('td', {}, ...statusCell(d)),
    h('td', { class: 'acts' }, ...actions(e, c)));
  if (!c.expanded) return [tr];
  return [tr, h('tr', { class: 'details-row', 'data-key': `${e.key}#details` }, h('td', { colspan: '7' }, details(e, c)))];
}

/** One card per device (narrow screens): everything that matters in view. */
export function card(e: Entry, c: RowContext): HTMLElement {
  const d = e.current;
  return h('li', { class: `device-card ${rowClass(d, c.own)}`, 'data-key': e.key },
    h('div', { class: 'card-top' }, addressBlock(e, c), ...statusCell(d)),
    d.label ? h('div', { class: 'trunc card-label', title: d.label, text: d.label }) : null,
    h('div', { class: 'card-meta' },
      h('span', { class: 'num' }, h('span', { class: 'sr-only', text: 'Remaining ' }), timer(d)),
      h('span', { class: 'sub', text: `${d.source === 'portal' ? 'myQNAPcloud' : 'Local'} · ${termText(d)}` })),
    d.state === 'active' ? h('div', { class: 'card-actions' }, ...actions(e, c)) : null,
    c.expanded ? details(e, c) : null);
}

/** Every address and what it really allows, how the registration ends, why it ended, and earlier ones. */
function details(e: Entry, c: RowContext): HTMLElement {
  const d = e.current;
  const dl = h('dl', { class: 'facts' });
  const add = (k: string, ...v: Array<Node | string>) => dl.append(h('dt', { text: k }), h('dd', {}, ...v));
  add(d.addresses.length > 1 ? 'Addresses' : 'Address', h('ul', { class: 'plain' }, ...d.addresses.map(a => h('li', { class: 'mono', text: allowedText(a, c.ipv6Net) }))));
  if (d.label) add('Label', d.label);
  add('Source', sourceText(d));
  add('Registered', `${dateTime(d.registeredAt)}, ${termText(d)}`);
  if (d.state === 'active') {
    add('Ends', d.policy === 'session' ? 'when the owner signs out of myQNAPcloud' : d.expiresAt === null ? 'only when an administrator revokes it' : dateTime(d.expiresAt));
  }
  else {
    add(signedOut(d) ? 'Ended' : d.state === 'expired' ? 'Expired' : 'Revoked',
      `${d.endedAt ? dateTime(d.endedAt) : ''}${d.endedBy && d.state === 'revoked' ? ` by ${endedBy(d.endedBy)}` : ''}`);
    if (d.endReason && d.state === 'revoked') add('Reason', signedOut(d) ? 'signed out' : d.endReason);
  }
  const earlier = e.registrations.filter(x => x.id !== d.id);
  const box = h('div', { class: 'details', id: `${c.pid}-d-${cssId(e.key)}` }, dl);
  if (earlier.length) {
    box.append(h('h3', { text: `Earlier registrations of ${d.address} (${earlier.length})` }),
      h('ul', { class: 'history' }, ...earlier.slice(0, 20).map(x => h('li', {
        text: `${dateTime(x.registeredAt)} ${termText(x)} — ${stateText(x).toLowerCase()}${x.endedAt ? ` ${dateTime(x.endedAt)}` : ''}${x.endedBy && x.state === 'revoked' ? ` by ${endedBy(x.endedBy)}` : ''}${x.endReason && x.state === 'revoked' && !signedOut(x) ? `: ${x.endReason}` : ''}`,
      }))),
      earlier.length > 20 ? h('p', { class: 'sub', text: `and ${earlier.length - 20} more (the audit log has all of them)` }) : '');
  }
  return box;
}
