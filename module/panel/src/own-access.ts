// The admin's own access: the registrations the admin's connection relies on (none from the LAN), and the notice
// that says when that access is about to end or has ended, with the way to keep it.
import type { Device, Session, Status } from './api';
import type { DeviceBook } from './book';
import { h } from './dom';
import { endedBy, shortTime, stateText } from './format';

/** The admin is warned this long before their own access ends. */
const OWN_WARN_MS = 15 * 60_000;

/** The admin's connection, as the trusted list sees it. */
export class OwnAccess {
  /** Where the admin is connected from; null from the LAN, or while that is not known. */
  readonly remote: string | null;
  /** IPv6 registrations allow their /64. */
  private readonly ipv6Net: boolean;

  constructor(private readonly book: DeviceBook, session: Session | null, status: Status | null) {
    this.remote = session?.remoteAddress && !session.remoteLan ? session.remoteAddress : null;
    this.ipv6Net = status?.ipv6Scope !== 'address';
  }

  isOwn(d: Device): boolean {
    const remote = this.remote;
    if (!remote) return false;
    if (d.addresses.includes(remote)) return true;
    if (!this.ipv6Net || !remote.includes(':')) return false;
    return this.book.holding(remote, true).some(e => e.current.id === d.id);
  }

  /** The registrations (current or latest of each entry) that hold the admin's address. */
  registrations(): Device[] {
    return this.remote ? this.book.holding(this.remote, this.ipv6Net).map(e => e.current) : [];
  }

  /** The active registrations the admin's own connection relies on. */
  active(): Device[] {
    return this.registrations().filter(d => d.state === 'active');
  }

  /** The list entries the admin's own connection relies on. */
  keys(): Set<string> {
    return this.remote ? new Set(this.book.holding(this.remote, this.ipv6Net).map(e => e.key)) : new Set();
  }
}

export interface OwnActions {
  register(opener: HTMLElement, address: string): void;
  extend(d: Device, opener: HTMLElement): void;
  /** The notice went away under the keyboard: focus goes to one of these (data-key), else the switch. */
  refocus(keys: string[]): void;
}

/** The notice about the admin's own access: ending soon, or ended, or never registered. */
export class OwnNotice {
  readonly el = h('div', { class: 'notices' });

  constructor(private readonly root: ShadowRoot, private readonly actions: OwnActions) {}

  /** Nothing to say: from the LAN, signed out, refused, or before the status is known. */
  clear(): void {
    this.el.replaceChildren();
    // Forgotten with what was drawn, so that the same notice is drawn again when there is something to say.
    delete this.el.dataset.sig;
  }

  /** For an admin connected from the internet (`own.remote`); `enabled`: Secure IP Access is on. */
  show(own: OwnAccess, enabled: boolean): void {
    const remote = own.remote as string;
    const active = own.active();
    // A session or a registration until revoked does not end on a clock: nothing to warn about.
    const lasting = active.find(d => d.policy !== 'fixed' || d.expiresAt === null) ?? active.sort((a, b) => (b.expiresAt ?? 0) - (a.expiresAt ?? 0))[0];
    const now = Date.now();
    let note: { kind: string; text: string; action: HTMLElement | null } | null = null;
    if (!lasting) {
      const ended = own.registrations().sort((a, b) => (b.endedAt ?? 0) - (a.endedAt ?? 0))[0];
      const why = ended ? `Your own access from ${remote} ${ended.state === 'expired' ? 'expired' : `was ${stateText(ended).toLowerCase()}`}${ended.endedAt ? ` at ${shortTime(ended.endedAt)}` : ''}${ended.endedBy && ended.state === 'revoked' ? ` by ${endedBy(ended.endedBy)}` : ''}.`
        : `You are connected from ${remote}, which is not registered.`;
      const then = enabled ? ' While Secure IP Access is on, the NAS can cut this session at any moment.' : ' Enabling Secure IP Access would cut this session.';
      note = { kind: 'warn', text: why + then, action: h('button', { class: 'btn small primary', type: 'button', text: 'Register this address', onclick: (e: Event) => this.actions.register(e.currentTarget as HTMLElement, remote) }) };
    } else if (lasting.policy === 'fixed' && lasting.expiresAt !== null && lasting.expiresAt - now <= OWN_WARN_MS) {
      const ends = lasting.expiresAt;
      const left = ends - now;
      note = {
        kind: 'warn',
        // Minutes, not seconds: the notice is a live region and should not speak every second.
        text: `Your own access from ${remote} ends ${left > 60_000 ? `in ${Math.ceil(left / 60_000)} minutes` : 'within a minute'} (at ${shortTime(ends)}).${enabled ? ' When it ends, the NAS cuts this session.' : ''}`,
        action: lasting.source === 'local'
          ? h('button', { class: 'btn small primary', type: 'button', 'data-key': 'own-extend', text: 'Extend my access', onclick: (e: Event) => this.actions.extend(lasting, e.currentTarget as HTMLElement) })
          : h('button', { class: 'btn small primary', type: 'button', 'data-key': 'own-register', text: 'Register this address', onclick: (e: Event) => this.actions.register(e.currentTarget as HTMLElement, remote) }),
      };
    }
    const sig = note ? `${note.kind}|${note.text}` : '';
    if (this.el.dataset.sig === sig) return;
    const focusKey = (this.root.activeElement as HTMLElement | null)?.dataset.key;
    const hadFocus = this.el.contains(this.root.activeElement);
    this.el.dataset.sig = sig;
    if (!note) {
      this.el.replaceChildren();
      // The warning went away under the keyboard (extended): it goes to the own row's Extend, or the switch.
      if (hadFocus) this.actions.refocus([...own.keys()].map(k => `extend-${k}`));
      return;
    }
    const prev = this.el.querySelector('.own-text');
    // The text changes every second near the end: update it in place so the button keeps focus.
    if (prev && this.el.querySelector('button')?.textContent === note.action?.textContent) {
      prev.textContent = note.text;
      return;
    }
    this.el.replaceChildren(h('div', { class: `notice ${note.kind} own`, role: 'status' }, h('span', { class: 'own-text', text: note.text }), note.action));
    if (focusKey) this.el.querySelector<HTMLElement>(`[data-key="${focusKey}"]`)?.focus();
  }
}
