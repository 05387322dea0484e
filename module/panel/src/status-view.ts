// What the head of the page says: the switch, what Secure IP Access is doing (facts and notes), and whether the
// page is live; and, in place of the lists, what happened when the page cannot show them.
import type { ApiFailure, Status } from './api';
import { Conn, vouches } from './connection';
import { h } from './dom';
import { dateTime, sentence } from './format';

export class StatusView {
  readonly switchEl: HTMLButtonElement;
  readonly summary: HTMLElement;
  readonly notes = h('div', { class: 'notices' });

  constructor(pid: string, private readonly root: ShadowRoot, toggle: () => void, private readonly link: (opener: HTMLElement) => void) {
    this.switchEl = h('button', { class: 'switch', type: 'button', role: 'switch', 'aria-checked': 'false', 'aria-labelledby': `${pid}-title`, 'aria-describedby': `${pid}-summary`, disabled: true, onclick: toggle },
      h('span', { class: 'knob', 'aria-hidden': 'true' }));
    this.summary = h('p', { id: `${pid}-summary`, class: 'summary' });
  }

  /** `activeDevices`: how many the summary counts (those of the first page's answer while only it is here). */
  render(s: Status | null, conn: Conn, busy: boolean, activeDevices: number): void {
    const known = !!s && vouches(conn);
    const enabled = !!s?.enabled;
    this.switchEl.setAttribute('aria-checked', String(enabled));
    // Disabled only when there is nothing to switch; while busy or unreachable it keeps focus but does nothing.
    this.switchEl.disabled = !s || conn === 'refused' || conn === 'signed-out' || conn === 'failed';
    this.switchEl.setAttribute('aria-disabled', String(!(conn === 'live' && !busy)));
    this.switchEl.setAttribute('aria-busy', String(busy));
    if (!s) {
      this.summary.textContent = conn === 'loading' ? 'Loading…' : 'Status unknown.';
      this.notes.replaceChildren();
      return;
    }
    const portal = s.portal;
    const pill = !known
      ? h('span', { class: 'pill unknown', text: conn === 'signed-out' ? 'Signed out: status not shown' : `Status unknown (last known: ${enabled ? 'on' : 'off'})` })
      : h('span', { class: `pill ${enabled ? 'on' : 'off'}`, text: enabled ? (s.enforcing ? 'On: enforcing' : 'On: not enforcing yet') : 'Off: every internet address can connect' });
    const facts: Array<HTMLElement | null> = [
      pill,
      h('span', { class: 'fact', text: `${activeDevices} active ${activeDevices === 1 ? 'device' : 'devices'}` }),
      h('span', { class: 'fact', text: `LAN never blocked: ${s.lanNetworks.length ? s.lanNetworks.join(', ') : 'none detected'}` }),
      h('span', { class: 'fact', text: `IPv6: ${s.ipv6Scope === 'address' ? 'each address alone (/128)' : "a device's network (/64)"}` }),
      h('span', { class: 'fact portal', text: `myQNAPcloud: ${!portal.configured ? 'not configured' : !portal.bound ? 'not linked to a QNAP ID' : portal.connected ? 'linked, connected' : 'linked, not connected'}` }),
      portal.configured && !portal.bound && known
        ? h('button', { class: 'btn small', type: 'button', 'data-key': 'bind', text: 'Link to a QNAP ID', onclick: (e: Event) => this.link(e.currentTarget as HTMLElement) })
        : null,
    ];
    const focusKey = this.summary.contains(this.root.activeElement) ? (this.root.activeElement as HTMLElement).dataset.key : undefined;
    this.summary.replaceChildren(...facts.filter((x): x is HTMLElement => !!x));
    if (focusKey) this.summary.querySelector<HTMLElement>(`[data-key="${focusKey}"]`)?.focus();
    const notes: HTMLElement[] = [];
    if (known && enabled && !s.enforcing) notes.push(h('p', { class: 'notice warn', text: 'Secure IP Access is on but the firewall rules are not in place yet; the service is repairing them.' }));
    if (!s.clockTrusted) notes.push(h('p', { class: 'notice warn', text: s.clockNote ?? 'The NAS clock is not trusted yet (no time sync). Expiry times shown may be off; access still ends on time.' }));
    if (s.storeRecovered) notes.push(h('p', { class: 'notice warn', role: 'alert', text: `The settings file was damaged and recovered: ${s.storeRecovered}` }));
    if (s.storageFull) notes.push(h('p', { class: 'notice warn', role: 'alert', text: `Storage full: ${s.storageFull}.` }));
    if (s.quarantinedRows) notes.push(h('p', { class: 'notice warn', text: `${s.quarantinedRows} unreadable device record(s) were set aside at start and are not trusted (sipa doctor lists them).` }));
    if (s.unrecordedEnds) notes.push(h('p', { class: 'notice warn', text: `${s.unrecordedEnds} ended device(s) are cut off but not yet recorded; the service keeps trying.` }));
    this.notes.replaceChildren(...notes);
  }
}

/** The "Live" label by the tabs, and the notice while the service does not answer. */
export class ConnectionNotice {
  readonly label = h('span', { class: 'live live-loading', text: 'Connecting…' });
  readonly el = h('div', { class: 'notices' });

  constructor(private readonly retryNow: () => void) {}

  /** `retryAt`: when the stream is tried again; `confirmedAt`: when the service last confirmed what is shown. */
  render(conn: Conn, retryAt: number, confirmedAt: number): void {
    const labels: Record<Conn, string> = { loading: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', unreachable: 'Not connected', 'signed-out': 'Signed out', refused: 'Offline', failed: 'Offline' };
    this.label.textContent = labels[conn];
    this.label.className = `live live-${conn}`;
    if (conn !== 'unreachable') {
      if (this.el.childElementCount) this.el.replaceChildren();
      return;
    }
    const wait = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    const when = confirmedAt ? `was last confirmed at ${dateTime(confirmedAt)}` : 'could not be loaded';
    const text = `What this page shows ${when} and may be out of date; nothing can be changed until the service answers. ${wait > 0 ? `Trying again in ${wait} s.` : 'Trying again now…'}`;
    const existing = this.el.querySelector('.conn-text');
    if (existing) {
      if (existing.textContent !== text) existing.textContent = text;
      return;
    }
    this.el.replaceChildren(h('div', { class: 'notice error conn', role: 'alert' },
      h('div', {}, h('strong', { text: 'Secure IP Access is not answering. ' }), h('span', { class: 'conn-text', text })),
      h('button', { class: 'btn small', type: 'button', text: 'Try now', onclick: () => this.retryNow() })));
  }
}

export interface StateCardOptions {
  signedOut: boolean;
  /** Why the page cannot be shown (refused or failed). */
  failure: ApiFailure | null;
  /** The page was live once: the session ended, rather than never began. */
  wasLive: boolean;
  /** Where a signed-out admin signs in to QTS again. */
  loginUrl: string;
  /** Loads the page again. */
  retry(): void;
}

/** Signed out, refused, or broken: what happened and the way back. */
export function stateCard(o: StateCardOptions): HTMLElement {
  if (o.signedOut) {
    return h('section', { class: 'card state-card', role: 'alert' },
      h('h2', { text: o.wasLive ? 'Your QTS session has ended' : 'Sign in to QTS as an administrator' }),
      h('p', { text: 'This page can no longer show or change Secure IP Access. Enforcement on the NAS goes on as before. Sign in to QTS again, then reload this page.' }),
      h('p', { class: 'state-actions' },
        h('a', { class: 'btn primary', href: o.loginUrl, target: '_top', text: 'Sign in to QTS' }),
        h('button', { class: 'btn', type: 'button', text: 'Reload', onclick: () => o.retry() })));
  }
  const f = o.failure;
  const admin = f?.status === 403 && f.code === 'not_admin';
  const title = admin ? 'Administrators only' : 'Secure IP Access cannot be shown';
  return h('section', { class: 'card state-card', role: 'alert' },
    h('h2', { text: title }),
    h('p', { text: sentence(f?.message ?? 'Something went wrong.') }),
    admin ? null : h('button', { class: 'btn primary', type: 'button', text: 'Retry', onclick: () => o.retry() }));
}
