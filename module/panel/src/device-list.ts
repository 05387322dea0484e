// The trusted list tab: its toolbar (search, filters, Register, exports), one page of rows (or cards on a narrow
// screen), the pager, and the countdowns on the page shown. A row already built is kept while nothing it shows
// has changed, so that live events cost one row, not the page.
import type { Device, Status } from './api';
import type { DeviceBook, Entry, SourceFilter, StateFilter } from './book';
import { h, reconcile } from './dom';
import { saveDevices } from './exports';
import { clock, describe, spoken } from './format';
import { card, RowContext, SOON_MS, tableRow } from './rows';

export const PAGE_SIZE = 50;
const SEARCH_DEBOUNCE_MS = 150;

/** What the list depends on in the rest of the page, when it is drawn. */
export interface ListSituation {
  /** The page shows what went wrong instead of the lists. */
  halted: boolean;
  loading: boolean;
  /** The service cannot vouch for the list now: its buttons do nothing. */
  stale: boolean;
  /** While only the list's first page is here (the whole list follows): how many devices are active. */
  partial: { total: number } | null;
  narrow: boolean;
  /** The entries the admin's own connection relies on. */
  own: Set<string>;
  ipv6Scope: Status['ipv6Scope'] | undefined;
}

/** What the list needs from the page. */
export interface ListHost {
  situation(): ListSituation;
  register(opener: HTMLElement): void;
  extend(d: Device, opener: HTMLElement): void;
  revoke(e: Entry, opener: HTMLElement): void;
  /** The whole list while it is on its way (an export waits for it), else null. */
  wholeList(): Promise<unknown> | null;
  say(text: string): void;
}

export class DeviceList {
  /** The tab's panel. */
  readonly el: HTMLElement;
  private stateFilter: StateFilter = 'active';
  private sourceFilter: SourceFilter = 'all';
  private query = '';
  private page = 0;
  private readonly expanded = new Set<string>();
  private rowCache = new Map<string, { sig: string; els: HTMLElement[] }>();
  private viewCache: { key: string; version: number; rows: Entry[] } | null = null;
  private pendingFocus: { index: number } | null = null;
  private searchTimer = 0;
  /** Devices whose coming end was announced (once each). */
  private readonly announced = new Set<number>();
  private readonly searchEl: HTMLInputElement;
  private readonly registerBtn: HTMLButtonElement;
  private readonly rowsEl: HTMLElement;
  private readonly table: HTMLTableElement;
  private readonly tbody: HTMLTableSectionElement;
  private readonly cards: HTMLUListElement;
  private readonly empty: HTMLElement;
  private readonly count: HTMLElement;
  private readonly pagerText: HTMLElement;
  private readonly prevBtn: HTMLButtonElement;
  private readonly nextBtn: HTMLButtonElement;

  constructor(private readonly root: ShadowRoot, private readonly pid: string, private readonly book: DeviceBook, private readonly host: ListHost) {
    this.searchEl = h('input', { type: 'search', id: `${pid}-q`, placeholder: 'Address, label or QNAP ID', autocomplete: 'off', oninput: (e: Event) => {
      const v = (e.target as HTMLInputElement).value;
      clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => { this.query = v; this.page = 0; this.render(); }, SEARCH_DEBOUNCE_MS);
    } });
    const stateSel = h('select', { id: `${pid}-state`, onchange: (e: Event) => { this.stateFilter = (e.target as HTMLSelectElement).value as StateFilter; this.page = 0; this.render(); } },
      h('option', { value: 'active', text: 'Active', selected: true }), h('option', { value: 'ended', text: 'Ended (history)' }), h('option', { value: 'all', text: 'All' }));
    const sourceSel = h('select', { id: `${pid}-source`, onchange: (e: Event) => { this.sourceFilter = (e.target as HTMLSelectElement).value as SourceFilter; this.page = 0; this.render(); } },
      h('option', { value: 'all', text: 'All sources' }), h('option', { value: 'portal', text: 'myQNAPcloud' }), h('option', { value: 'local', text: 'Local' }));
    this.count = h('span', { class: 'count', 'aria-live': 'polite' });
    this.tbody = h('tbody');
    this.table = h('table', { class: 'grid devices', 'aria-label': 'Trusted list' },
      h('colgroup', {}, ...['c-addr', 'c-label', 'c-source col-opt', 'c-term col-opt', 'c-left', 'c-state', 'c-act'].map(c => h('col', { class: c }))),
      h('thead', {}, h('tr', {}, ...[['Address', ''], ['Label', ''], ['Source', 'col-opt'], ['Term', 'col-opt'], ['Remaining', ''], ['Status', ''], ['Actions', '']].map(([t, c]) => h('th', { scope: 'col', class: c, text: t })))),
      this.tbody);
    this.cards = h('ul', { class: 'cards', 'aria-label': 'Trusted list' });
    this.empty = h('div', { class: 'empty', hidden: true });
    this.rowsEl = h('div', { class: 'list-host' }, this.table, this.cards);
    this.pagerText = h('span', { class: 'pager-text', 'aria-live': 'polite' });
    this.prevBtn = h('button', { class: 'btn small', type: 'button', text: 'Previous page', onclick: () => this.turn(-1) });
    this.nextBtn = h('button', { class: 'btn small', type: 'button', text: 'Next page', onclick: () => this.turn(1) });
    this.registerBtn = h('button', { class: 'btn primary', type: 'button', 'data-key': 'register', text: 'Register a device', onclick: (e: Event) => this.host.register(e.currentTarget as HTMLElement) });
    this.el = h('div', { class: 'tabpanel', role: 'tabpanel', id: `${pid}-p-devices`, 'aria-labelledby': `${pid}-t-devices` },
      h('div', { class: 'toolbar', role: 'search' },
        h('label', { for: `${pid}-q`, class: 'sr-only', text: 'Search the trusted list' }), this.searchEl,
        h('span', { class: 'pair' }, h('label', { for: `${pid}-state`, text: 'Show' }), stateSel),
        h('span', { class: 'pair' }, h('label', { for: `${pid}-source`, text: 'Source' }), sourceSel),
        h('span', { class: 'spacer' }), this.count),
      h('div', { class: 'toolbar actions' },
        this.registerBtn,
        h('span', { class: 'spacer' }),
        h('button', { class: 'btn', type: 'button', onclick: () => void this.export('csv'), title: 'Download every row of this view as CSV', text: 'Export CSV' }),
        h('button', { class: 'btn', type: 'button', onclick: () => void this.export('json'), title: 'Download every row of this view as JSON', text: 'Export JSON' })),
      this.rowsEl,
      this.empty,
      h('nav', { class: 'pager', 'aria-label': 'Trusted list pages' }, this.pagerText, this.prevBtn, this.nextBtn));
  }

  /** Register does nothing while the service cannot vouch for the page (it keeps focus). */
  markActionable(actionable: boolean): void {
    this.registerBtn.setAttribute('aria-disabled', String(!actionable));
  }

  /** The rows of the chosen view, in the list's order. */
  view(): Entry[] {
    const key = `${this.stateFilter}|${this.sourceFilter}|${this.query}`;
    if (this.viewCache?.key === key && this.viewCache.version === this.book.version) return this.viewCache.rows;
    const rows = this.book.view(this.stateFilter, this.sourceFilter, this.query);
    this.viewCache = { key, version: this.book.version, rows };
    return rows;
  }

  render(): void {
    const s = this.host.situation();
    if (s.halted) return;
    // With only the first page here, the default view's first page is exact; any other waits for the whole list.
    const waiting = s.partial !== null && (this.stateFilter !== 'active' || this.sourceFilter !== 'all' || this.query.trim() !== '' || this.page > 0);
    const rows = waiting ? [] : this.view();
    const total = s.partial && !waiting ? s.partial.total : rows.length;
    const pages = Math.max(1, Math.ceil((waiting ? (this.page + 1) * PAGE_SIZE : total) / PAGE_SIZE));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    const start = this.page * PAGE_SIZE;
    const shown = rows.slice(start, start + PAGE_SIZE);
    const { narrow, own, stale } = s;
    const focused = this.root.activeElement as HTMLElement | null;
    const focusKey = focused && this.rowsEl.contains(focused) ? focused.dataset.key : undefined;
    const next = new Map<string, { sig: string; els: HTMLElement[] }>();
    const els: HTMLElement[] = [];
    for (const e of shown) {
      const sig = `${e.rev}|${e.current.id}|${narrow}|${own.has(e.key)}|${this.expanded.has(e.key)}|${stale}|${s.ipv6Scope}`;
      let built = this.rowCache.get(e.key);
      if (!built || built.sig !== sig) {
        const c = this.rowContext(e, own.has(e.key), stale, s.ipv6Scope !== 'address');
        built = { sig, els: narrow ? [card(e, c)] : tableRow(e, c) };
      }
      next.set(e.key, built);
      els.push(...built.els);
    }
    this.rowCache = next;
    this.table.hidden = narrow;
    this.cards.hidden = !narrow;
    reconcile(narrow ? this.cards : this.tbody, els);
    (narrow ? this.tbody : this.cards).replaceChildren();

    if (focusKey && !this.rowsEl.contains(this.root.activeElement)) {
      this.rowsEl.querySelector<HTMLElement>(`[data-key="${focusKey}"]`)?.focus();
    }
    if (this.pendingFocus) {
      const buttons = [...this.rowsEl.querySelectorAll<HTMLElement>('[data-role="revoke"]')];
      const target = buttons[Math.min(this.pendingFocus.index, buttons.length - 1)] ?? this.searchEl;
      this.pendingFocus = null;
      target.focus();
    }

    this.count.textContent = waiting ? 'Loading…' : `${total} shown · ${s.partial?.total ?? this.book.activeCount} active`;
    this.pagerText.textContent = total ? `${start + 1}–${start + shown.length} of ${total}` : '';
    this.prevBtn.disabled = this.page === 0;
    this.nextBtn.disabled = this.page >= pages - 1;
    this.prevBtn.hidden = this.nextBtn.hidden = pages <= 1;
    this.empty.hidden = !waiting && (total > 0 || s.loading);
    if (waiting) {
      this.empty.replaceChildren(h('strong', { text: 'Loading the whole list…' }));
    } else if (!total) {
      const filtered = this.query.trim() || this.sourceFilter !== 'all';
      this.empty.replaceChildren(...(this.book.size === 0
        ? [h('strong', { text: 'No registered devices yet.' }), h('span', { text: ' A device appears here when its owner registers it on myQNAPcloud (Secure IP Access → Register), or when an administrator registers an address.' })]
        : filtered
          ? [h('strong', { text: 'No device matches.' }), h('span', { text: ' Clear the search or the filters to see the whole list.' })]
          : this.stateFilter === 'active'
            ? [h('strong', { text: 'No active devices.' }), h('span', { text: ' Choose Show: Ended (history) to see devices whose access has ended.' })]
            : [h('strong', { text: 'No ended devices.' })]));
    }
  }

  /** Once a second: the countdowns on the page shown; a device about to end is announced once. */
  tick(): void {
    const now = Date.now();
    for (const cell of this.rowsEl.querySelectorAll<HTMLElement>('[data-expires]')) {
      const left = Number(cell.dataset.expires) - now;
      const text = left > 0 ? clock(left) : 'ending…';
      if (cell.textContent !== text) cell.textContent = text;
      cell.setAttribute('aria-label', left > 0 ? `${spoken(left)} left` : 'ending now');
      cell.closest('[data-key]')?.classList.toggle('soon', left > 0 && left <= SOON_MS);
    }
    for (const el of this.rowsEl.querySelectorAll<HTMLElement>('[data-key]')) {
      const e = this.book.get(el.dataset.key as string);
      const d = e?.current;
      if (!d || d.state !== 'active' || d.policy !== 'fixed' || d.expiresAt === null) continue;
      const left = d.expiresAt - now;
      if (left > 0 && left <= SOON_MS && !this.announced.has(d.id)) {
        this.announced.add(d.id);
        this.host.say(`Access for ${describe(d)} ends in ${spoken(left)}.`);
      }
    }
  }

  /** The first element in the rows with one of these data-keys. */
  find(keys: string[]): HTMLElement | null {
    if (!keys.length) return null;
    return this.rowsEl.querySelector<HTMLElement>(keys.map(k => `[data-key="${CSS.escape(k)}"]`).join(', '));
  }

  /** Where a Revoke Request button stands among those shown. */
  revokeIndex(button: HTMLElement): number {
    return [...this.rowsEl.querySelectorAll('[data-role="revoke"]')].indexOf(button);
  }

  /** A row was revoked from its button at `index`: the keyboard stays on the row, or goes to the one that took its place. */
  revoked(key: string, index: number): void {
    const still = this.view().includes(this.book.get(key) as Entry);
    if (still) {
      this.render();
      this.find([`row-${key}`, `details-${key}`])?.focus();
    } else {
      this.pendingFocus = { index: Math.max(0, index) };
      this.render();
    }
  }

  private turn(by: number): void {
    this.page += by;
    this.render();
    (by < 0 ? this.prevBtn : this.nextBtn).focus();
    if ((by < 0 ? this.prevBtn : this.nextBtn).disabled) (by < 0 ? this.nextBtn : this.prevBtn).focus();
  }

  private rowContext(e: Entry, own: boolean, stale: boolean, ipv6Net: boolean): RowContext {
    return {
      pid: this.pid, own, stale, expanded: this.expanded.has(e.key), ipv6Net,
      toggle: () => {
        if (this.expanded.has(e.key)) this.expanded.delete(e.key);
        else this.expanded.add(e.key);
        this.render();
      },
      extend: (d, opener) => this.host.extend(d, opener),
      revoke: (entry, opener) => this.host.revoke(entry, opener),
    };
  }

  private async export(kind: 'csv' | 'json'): Promise<void> {
    const whole = this.host.wholeList();
    if (whole) await whole;
    saveDevices(kind, this.view().map(e => e.current));
  }
}
