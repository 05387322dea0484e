// The audit log tab: one page of 100 entries from the service at a time, newest first, filtered by the service;
// Older/Newer through all of them, and exports of every entry that matches the filter.
import { ApiClient, ApiFailure, asFailure, AuditEntry } from './api';
import { h } from './dom';
import type { ErrorNotes } from './error-notes';
import { saveAudit } from './exports';
import { actionText, actor, dateTime, detailText } from './format';

const AUDIT_PAGE = 100;
const FILTER_DEBOUNCE_MS = 300;
/** An export reads the log this many entries at a time. */
const EXPORT_PAGE = 1000;

export interface AuditHost {
  /** The page shows what went wrong instead of the lists. */
  halted(): boolean;
  /** The log's tab is the one shown. */
  shown(): boolean;
  /** What a failed call means for the whole page. */
  failed(f: ApiFailure): void;
}

export class AuditLog {
  /** The tab's panel. */
  readonly el: HTMLElement;
  private entries: AuditEntry[] = [];
  private query = '';
  /** `before` ids of the pages above the one shown (newest first); empty on the first page. */
  private trail: Array<number | null> = [];
  private before: number | null = null;
  private older = false;
  private dirty = true;
  private loading: Promise<void> | null = null;
  private filterTimer = 0;
  private readonly body: HTMLTableSectionElement;
  private readonly empty: HTMLElement;
  private readonly pager: HTMLElement;
  private readonly newerBtn: HTMLButtonElement;
  private readonly olderBtn: HTMLButtonElement;

  constructor(pid: string, private readonly api: ApiClient, private readonly errors: ErrorNotes, private readonly host: AuditHost) {
    const filter = h('input', { type: 'search', id: `${pid}-aq`, placeholder: 'Filter the log', autocomplete: 'off', oninput: (e: Event) => {
      const v = (e.target as HTMLInputElement).value;
      clearTimeout(this.filterTimer);
      this.filterTimer = window.setTimeout(() => { this.query = v; this.trail = []; this.before = null; this.dirty = true; void this.load(); }, FILTER_DEBOUNCE_MS);
    } });
    this.body = h('tbody');
    this.empty = h('div', { class: 'empty', hidden: true });
    this.newerBtn = h('button', { class: 'btn small', type: 'button', text: 'Newer entries', onclick: () => this.turn(-1) });
    this.olderBtn = h('button', { class: 'btn small', type: 'button', text: 'Older entries', onclick: () => this.turn(1) });
    this.pager = h('span', { class: 'pager-text', 'aria-live': 'polite' });
    this.el = h('div', { class: 'tabpanel', role: 'tabpanel', id: `${pid}-p-audit`, 'aria-labelledby': `${pid}-t-audit`, hidden: true },
      h('div', { class: 'toolbar', role: 'search' },
        h('label', { for: `${pid}-aq`, class: 'sr-only', text: 'Filter the audit log' }), filter,
        h('span', { class: 'spacer' }),
        h('button', { class: 'btn', type: 'button', onclick: () => void this.export('csv'), title: 'Download every entry that matches the filter as CSV', text: 'Export CSV' }),
        h('button', { class: 'btn', type: 'button', onclick: () => void this.export('json'), title: 'Download every entry that matches the filter as JSON', text: 'Export JSON' })),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'grid audit', 'aria-label': 'Audit log' },
          h('thead', {}, h('tr', {}, ...['Time', 'Who', 'Action', 'Address', 'Detail'].map(t => h('th', { scope: 'col', text: t })))),
          this.body),
        this.empty),
      h('nav', { class: 'pager', 'aria-label': 'Audit log pages' }, this.pager, this.newerBtn, this.olderBtn));
  }

  /** Something happened: the first page is read again now if it is on screen; any other page when next shown. */
  changed(): void {
    this.dirty = true;
    if (this.host.shown() && this.before === null) void this.load();
  }

  /** The whole list was read again: so is the log, at once if it is shown. */
  async reread(): Promise<void> {
    this.dirty = true;
    if (this.host.shown()) await this.load();
  }

  /** Its tab was chosen: what changed meanwhile is read, while the service vouches for the page (`live`). */
  chosen(live: boolean): void {
    if (this.dirty && live) void this.load();
  }

  render(): void {
    if (this.host.halted()) return;
    this.body.replaceChildren(...this.entries.map(a => h('tr', {},
      h('td', { class: 'num', text: dateTime(a.at) }),
      h('td', { class: 'trunc', title: actor(a.surface, a.actor), text: actor(a.surface, a.actor) }),
      h('td', { text: actionText(a.action) }),
      h('td', { class: 'mono addr', text: a.address ?? '—' }),
      h('td', { class: 'wrap', text: detailText(a) || '—' }))));
    const first = this.trail.length * AUDIT_PAGE;
    this.pager.textContent = this.entries.length ? `Entries ${first + 1}–${first + this.entries.length}, newest first${this.older ? '' : ' (the oldest kept)'}` : '';
    this.newerBtn.disabled = this.before === null;
    this.olderBtn.disabled = !this.older;
    this.empty.hidden = this.entries.length > 0;
    this.empty.textContent = this.query.trim() ? 'No entry matches the filter.' : 'The audit log is empty.';
  }

  private async load(): Promise<void> {
    if (this.loading) return this.loading;
    this.loading = (async () => {
      while (this.dirty) {
        this.dirty = false;
        try {
          const rows = await this.api.audit({ limit: AUDIT_PAGE + 1, before: this.before, q: this.query.trim() });
          this.older = rows.length > AUDIT_PAGE;
          this.entries = rows.slice(0, AUDIT_PAGE);
        } catch (e) {
          this.host.failed(asFailure(e));
          return;
        }
        this.render();
        // Live changes come in bursts: one page a second is enough.
        if (this.dirty) await new Promise(r => setTimeout(r, 1000));
      }
    })().finally(() => { this.loading = null; });
    return this.loading;
  }

  private turn(by: number): void {
    if (by > 0) {
      if (!this.entries.length) return;
      this.trail.push(this.before);
      this.before = this.entries[this.entries.length - 1].id;
    } else {
      this.before = this.trail.pop() ?? null;
    }
    this.dirty = true;
    void this.load().then(() => (by > 0 ? (this.olderBtn.disabled ? this.newerBtn : this.olderBtn) : (this.newerBtn.disabled ? this.olderBtn : this.newerBtn)).focus());
  }

  /** Every entry that matches the filter, fetched a page at a time from the service. */
  private async export(kind: 'csv' | 'json'): Promise<void> {
    const all: AuditEntry[] = [];
    try {
      for (let before: number | null = null; ;) {
        const page = await this.api.audit({ limit: EXPORT_PAGE, before, q: this.query.trim() });
        all.push(...page);
        if (page.length < EXPORT_PAGE) break;
        before = page[page.length - 1].id;
      }
      this.errors.clear('export-audit');
    } catch (e) {
      const f = asFailure(e);
      this.errors.show('export-audit', 'Export of the audit log', f);
      this.host.failed(f);
      return;
    }
    saveAudit(kind, all, this.query.trim());
  }
}
