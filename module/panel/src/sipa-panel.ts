// <sipa-panel>: the Secure IP Access page of QuFirewall. Plain DOM in a shadow root; all text is set with
// textContent (no markup from data). Attributes: api-base (default "api/v1/", relative to the page) and
// login-url (where a signed-out admin signs in to QTS again; default "/").
import { ApiClient, ApiFailure, asFailure, AuditEntry, Device, Session, Status, StreamEvents } from './api';
import { DeviceBook, Entry, keyOf, SourceFilter, StateFilter } from './book';
import { field, openDialog } from './dialog';
import { h, reconcile } from './dom';
import { actionText, actor, clock, dateTime, detailText, endedBy, sentence, shortTime, signedOut, spoken, stateText } from './format';
import { saveAudit, saveDevices } from './exports';
import { DURATIONS, durationField, fieldError } from './forms';
import { card, RowContext, SOON_MS, tableRow } from './rows';
import css from './styles.css';

/** The admin is warned this long before their own access ends. */
const OWN_WARN_MS = 15 * 60_000;
const PAGE_SIZE = 50;
const AUDIT_PAGE = 100;
const SEARCH_DEBOUNCE_MS = 150;
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 5000;
const POLL_MS = 30_000;
const PORTAL_POLL_MS = 2000;
const NARROW_PX = 700;
const MEDIUM_PX = 1000;

type Conn = 'loading' | 'live' | 'reconnecting' | 'unreachable' | 'signed-out' | 'refused' | 'failed';
type Layout = 'wide' | 'medium' | 'narrow';
type Tab = 'devices' | 'audit';
const TABS: readonly Tab[] = ['devices', 'audit'];

let uid = 0;

export class SipaPanel extends HTMLElement {
  private readonly root: ShadowRoot;
  private api!: ApiClient;
  private session: Session | null = null;
  private status: Status | null = null;
  private readonly book = new DeviceBook();
  private conn: Conn = 'loading';
  private failure: ApiFailure | null = null;
  /** When the shown state was last confirmed by the service. */
  private confirmedAt = 0;
  private everLive = false;
  private busy = false;
  private tab: Tab = 'devices';
  private layout: Layout = 'wide';
  private readonly pid = `sipa${++uid}`;

  // The trusted list: filters, page, expanded rows, and rows already built.
  private stateFilter: StateFilter = 'active';
  private sourceFilter: SourceFilter = 'all';
  private query = '';
  private page = 0;
  private readonly expanded = new Set<string>();
  private rowCache = new Map<string, { sig: string; els: HTMLElement[] }>();
  private viewCache: { key: string; version: number; rows: Entry[] } | null = null;
  /** While the book holds only the list's first page (the whole list follows): how many devices are active. */
  private partial: { total: number } | null = null;
  private restLoading: Promise<boolean> | null = null;
  private pendingFocus: { index: number } | null = null;
  private renderQueued = 0;

  // The audit log: one page from the server at a time.
  private audit: AuditEntry[] = [];
  private auditQuery = '';
  /** `before` ids of the pages above the one shown (newest first); empty on the first page. */
  private auditTrail: Array<number | null> = [];
  private auditBefore: number | null = null;
  private auditOlder = false;
  private auditDirty = true;
  private auditLoading: Promise<void> | null = null;

  // Live connection.
  private stream: AbortController | null = null;
  private retryDelay = RETRY_FIRST_MS;
  private retryAt = 0;
  private wakeRetry: (() => void) | null = null;
  private ticker = 0;
  private poller = 0;
  private searchTimer = 0;
  private portalTimer = 0;
  private auditSearchTimer = 0;
  private statusLoading: Promise<void> | null = null;
  private statusAgain = false;
  private listLoading: Promise<void> | null = null;
  private listAgain = false;
  /** Devices whose coming end was announced (once each). */
  private announced = new Set<number>();
  private sayQueue: string[] = [];
  private sayTimer = 0;
  private resizer: ResizeObserver | null = null;
  /** Failed actions on screen, by what was tried; a later attempt at the same thing replaces its notice. */
  private readonly errorNotes = new Map<string, HTMLElement>();

  // Parts built once and updated in place.
  private panelEl!: HTMLElement;
  private main!: HTMLElement;
  private content!: HTMLElement;
  private switchEl!: HTMLButtonElement;
  private summary!: HTMLElement;
  private connEl!: HTMLElement;
  private errorsEl!: HTMLElement;
  private ownEl!: HTMLElement;
  private statusNotes!: HTMLElement;
  private liveEl!: HTMLElement;
  private announcer!: HTMLElement;
  private listHost!: HTMLElement;
  private table!: HTMLTableElement;
  private tbody!: HTMLTableSectionElement;
  private cards!: HTMLUListElement;
  private deviceEmpty!: HTMLElement;
  private deviceCount!: HTMLElement;
  private pagerText!: HTMLElement;
  private prevBtn!: HTMLButtonElement;
  private nextBtn!: HTMLButtonElement;
  private stateSel!: HTMLSelectElement;
  private registerBtn!: HTMLButtonElement;
  private searchEl!: HTMLInputElement;
  private auditBody!: HTMLTableSectionElement;
  private auditEmpty!: HTMLElement;
  private auditPager!: HTMLElement;
  private auditNewer!: HTMLButtonElement;
  private auditOlderBtn!: HTMLButtonElement;
  private tabs!: Record<Tab, { tab: HTMLButtonElement; panel: HTMLElement }>;

  constructor() {
    super();
    this.root = this.attachShadow({ mode: 'open' });
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    this.root.adoptedStyleSheets = [sheet];
  }

  connectedCallback(): void {
    const base = new URL(this.getAttribute('api-base') ?? 'api/v1/', document.baseURI).href;
    this.api = new ApiClient(base, devToken());
    // Asked before the page is built: the answers are on their way while it is.
    const first = this.loadFirst();
    this.build();
    this.resizer = new ResizeObserver(() => this.fit());
    this.resizer.observe(this);
    this.fit();
    this.ticker = window.setInterval(() => this.tick(), 1000);
    void this.start(first);
  }

  disconnectedCallback(): void {
    clearInterval(this.ticker);
    clearInterval(this.poller);
    clearTimeout(this.portalTimer);
    this.resizer?.disconnect();
    this.stopStream();
  }

  // ---------------------------------------------------------------------------------------------------------
  // Loading, the live stream, and what happens when the service is gone or the session has ended

  /**
   * The first page first: 50 rows the daemon serves from memory are on screen at once (10,000 devices are 3 MB of
   * JSON, most of a second to fetch and read); the whole list, with history, search and every page, follows.
   */
  private async start(first: Promise<boolean> = this.loadFirst()): Promise<void> {
    this.conn = 'loading';
    this.failure = null;
    this.renderAll();
    if (!(await first)) return;
    this.confirm();
    this.renderAll();
    performance.mark('sipa-first-rows');
    this.restLoading = this.loadRest();
    const complete = await this.restLoading;
    this.restLoading = null;
    if (!complete) return;
    this.renderAll();
    performance.mark('sipa-list-complete');
    void this.listen();
  }

  private loadFirst(): Promise<boolean> {
    return this.loading(async () => {
      const [session, status, first] = await Promise.all([this.api.session(), this.api.status(), this.api.firstDevices(PAGE_SIZE)]);
      this.session = session;
      this.status = status;
      this.book.load(first.devices);
      this.partial = { total: first.total };
    });
  }

  private loadRest(): Promise<boolean> {
    return this.loading(async () => this.showWhole(await this.api.devices()));
  }

  /** Session, status and the list (and the log's first page when it is shown). False when it failed (handled). */
  private loadAll(): Promise<boolean> {
    return this.loading(async () => {
      const [session, status, devices] = await Promise.all([this.api.session(), this.api.status(), this.api.devices()]);
      this.session = session;
      this.status = status;
      await this.showWhole(devices);
    });
  }

  /** The whole list is in: no partial view any more, and the log is read again when it is shown. */
  private async showWhole(devices: Device[]): Promise<void> {
    this.book.load(devices);
    this.partial = null;
    this.auditDirty = true;
    if (this.tab === 'audit') await this.loadAudit();
  }

  /** Runs a load; a failure is shown as what it means for the page, and answers false. */
  private async loading(load: () => Promise<void>): Promise<boolean> {
    try {
      await load();
      return true;
    } catch (e) {
      this.trouble(asFailure(e), true);
      return false;
    }
  }

  /** What a failed call means for the whole page: signed out, refused, unreachable, or broken. */
  private trouble(f: ApiFailure, loading = false): void {
    if (f.signedOut) return this.signOut();
    if (f.status === 403 && (f.code === 'not_admin' || f.code === 'foreign_host' || f.code === 'foreign_origin')) {
      this.stopStream();
      this.conn = 'refused';
      this.failure = f;
      this.renderAll();
      return;
    }
    if (f.unreachable) {
      this.lostContact();
      if (loading && !this.stream) void this.listen();
      return;
    }
    if (loading) {
      this.conn = 'failed';
      this.failure = f;
      this.renderAll();
    }
  }

  private signOut(): void {
    this.stopStream();
    clearInterval(this.poller);
    this.conn = 'signed-out';
    this.renderAll();
  }

  private lostContact(): void {
    if (this.conn === 'signed-out' || this.conn === 'refused') return;
    const wasLive = this.conn === 'live';
    this.conn = 'unreachable';
    this.renderAll();
    // A call failed while the stream still looked open: only a stream opened anew (and a fresh load) vouches again.
    if (wasLive && this.stream) {
      this.stopStream();
      void this.listen();
    }
  }

  private stopStream(): void {
    this.stream?.abort();
    this.stream = null;
    this.wakeRetry?.();
  }

  private confirm(): void {
    this.confirmedAt = Date.now();
  }

  private async listen(): Promise<void> {
    const ctl = new AbortController();
    this.stream = ctl;
    this.retryDelay = RETRY_FIRST_MS;
    while (!ctl.signal.aborted) {
      let opened = false;
      try {
        await this.api.events(() => {
          opened = true;
          this.retryDelay = RETRY_FIRST_MS;
          void this.streamOpened();
        }, (name, data) => this.onEvent(name, data), ctl.signal);
      } catch (e) {
        if (ctl.signal.aborted) return;
        const f = asFailure(e);
        if (f.signedOut || (f.status === 403 && f.code !== 'csrf')) return this.trouble(f);
        if (!opened && this.conn !== 'unreachable') this.lostContact();
      }
      if (ctl.signal.aborted) return;
      // The stream ended: say so at once, grey out only when a new attempt fails too.
      if (opened && this.conn === 'live') {
        this.conn = 'reconnecting';
        this.renderConn();
      }
      this.retryAt = Date.now() + this.retryDelay;
      this.renderConn();
      await new Promise<void>(resolve => {
        const t = window.setTimeout(resolve, this.retryDelay);
        this.wakeRetry = () => { clearTimeout(t); resolve(); };
      });
      this.wakeRetry = null;
      this.retryDelay = Math.min(Math.round(this.retryDelay * 1.5), RETRY_MAX_MS);
    }
  }

  /** The stream is open: after a gap, everything is fetched again before the page vouches for it. */
  private async streamOpened(): Promise<void> {
    if (this.conn === 'live') return;
    if (this.everLive || this.conn === 'unreachable') {
      if (!(await this.loadAll())) return;
    }
    this.everLive = true;
    this.conn = 'live';
    this.confirm();
    this.renderAll();
    clearInterval(this.poller);
    this.poller = window.setInterval(() => void this.poll(), POLL_MS);
  }

  /** Try again now (the admin asked, or an action found the service gone). */
  private retryNow(): void {
    if (this.conn === 'signed-out' || this.conn === 'refused') return;
    if (!this.stream) {
      void (this.status ? this.listen() : this.start());
      return;
    }
    this.wakeRetry?.();
  }

  /** Every 30 s: a QTS session that ended while the page sat idle is noticed; the portal link's state follows. */
  private async poll(): Promise<void> {
    if (this.conn !== 'live') return;
    await this.refreshStatus();
  }

  private onEvent<K extends keyof StreamEvents>(name: K, data: StreamEvents[K]): void {
    this.confirm();
    if (name === 'registered' || name === 'revoked' || name === 'expired') {
      const d = (data as StreamEvents['registered']).device;
      const own = this.isOwn(d);
      this.book.put(d);
      if (name === 'expired') this.queueSay(own ? `Your own access from ${d.address} has expired.` : `Access for ${describe(d)} has expired.`);
      else if (name === 'revoked') this.queueSay(own ? `Your own access from ${d.address} was revoked.` : signedOut(d) ? `${describe(d)} signed out; its access ended.` : `Access for ${describe(d)} was revoked.`);
      else this.queueSay(`${describe(d)} was registered.`);
      this.queueRender();
      this.auditChanged();
    } else if (name === 'batch') {
      const b = data as StreamEvents['batch'];
      this.queueSay(b.registered ? `${b.registered} devices were registered.` : `${b.revoked} devices were revoked.`);
      void this.reloadList();
      void this.refreshStatus();
      this.auditChanged();
    } else if (name === 'portal') {
      if (this.status) this.status = { ...this.status, portal: data as StreamEvents['portal'] };
      if (this.session) this.session = { ...this.session, bound: (data as StreamEvents['portal']).bound };
      this.queueSay((data as StreamEvents['portal']).bound ? 'The NAS is now linked to a QNAP ID.' : 'The NAS is no longer linked to a QNAP ID.');
      this.renderStatus();
      this.auditChanged();
    } else {
      if (name === 'repaired') this.queueSay(`The firewall was repaired: ${(data as StreamEvents['repaired']).what}.`);
      if ((name === 'enabled' || name === 'disabled') && this.status) this.status = { ...this.status, enabled: name === 'enabled' };
      this.renderStatus();
      void this.refreshStatus();
      this.auditChanged();
    }
  }

  /** Status follows events; one request at a time, one more if something happened meanwhile. */
  private async refreshStatus(): Promise<void> {
    if (this.statusLoading) {
      this.statusAgain = true;
      return this.statusLoading;
    }
    this.statusLoading = (async () => {
      do {
        this.statusAgain = false;
        try {
          this.status = await this.api.status();
          this.confirm();
        } catch (e) {
          this.trouble(asFailure(e));
          return;
        }
        this.renderStatus();
      } while (this.statusAgain);
    })().finally(() => { this.statusLoading = null; });
    return this.statusLoading;
  }

  private async reloadList(): Promise<void> {
    if (this.listLoading) {
      this.listAgain = true;
      return this.listLoading;
    }
    this.listLoading = (async () => {
      do {
        this.listAgain = false;
        try {
          this.book.load(await this.api.devices());
        } catch (e) {
          this.trouble(asFailure(e));
          return;
        }
        this.queueRender();
      } while (this.listAgain);
    })().finally(() => { this.listLoading = null; });
    return this.listLoading;
  }

  private auditChanged(): void {
    this.auditDirty = true;
    if (this.tab === 'audit' && this.auditBefore === null) void this.loadAudit();
  }

  private async loadAudit(): Promise<void> {
    if (this.auditLoading) return this.auditLoading;
    this.auditLoading = (async () => {
      while (this.auditDirty) {
        this.auditDirty = false;
        try {
          const rows = await this.api.audit({ limit: AUDIT_PAGE + 1, before: this.auditBefore, q: this.auditQuery.trim() });
          this.auditOlder = rows.length > AUDIT_PAGE;
          this.audit = rows.slice(0, AUDIT_PAGE);
        } catch (e) {
          this.trouble(asFailure(e));
          return;
        }
        this.renderAudit();
        // Live changes come in bursts: one page a second is enough.
        if (this.auditDirty) await new Promise(r => setTimeout(r, 1000));
      }
    })().finally(() => { this.auditLoading = null; });
    return this.auditLoading;
  }

  private queueSay(text: string): void {
    this.sayQueue.push(text);
    if (this.sayTimer) return;
    this.sayTimer = window.setTimeout(() => {
      this.sayTimer = 0;
      const q = this.sayQueue;
      this.sayQueue = [];
      this.say(q.length === 1 ? q[0] : `${q.length} changes to the trusted list. The latest: ${q[q.length - 1]}`);
    }, 400);
  }

  private say(text: string): void {
    // Clearing first makes a repeated sentence be read again.
    this.announcer.textContent = '';
    window.setTimeout(() => { this.announcer.textContent = text; }, 50);
  }

  /** Once a second: countdowns on the page shown, the admin's own access, and the retry countdown. */
  private tick(): void {
    const now = Date.now();
    for (const cell of this.listHost?.querySelectorAll<HTMLElement>('[data-expires]') ?? []) {
      const left = Number(cell.dataset.expires) - now;
      const text = left > 0 ? clock(left) : 'ending…';
      if (cell.textContent !== text) cell.textContent = text;
      cell.setAttribute('aria-label', left > 0 ? `${spoken(left)} left` : 'ending now');
      cell.closest('[data-key]')?.classList.toggle('soon', left > 0 && left <= SOON_MS);
    }
    for (const el of this.listHost?.querySelectorAll<HTMLElement>('[data-key]') ?? []) {
      const e = this.book.get(el.dataset.key as string);
      const d = e?.current;
      if (!d || d.state !== 'active' || d.policy !== 'fixed' || d.expiresAt === null) continue;
      const left = d.expiresAt - now;
      if (left > 0 && left <= SOON_MS && !this.announced.has(d.id)) {
        this.announced.add(d.id);
        this.say(`Access for ${describe(d)} ends in ${spoken(left)}.`);
      }
    }
    this.renderOwn();
    if (this.conn === 'unreachable' || this.conn === 'reconnecting') this.renderConn();
  }

  // ---------------------------------------------------------------------------------------------------------
  // The admin's own access

  private ipv6Net(): boolean {
    return this.status?.ipv6Scope !== 'address';
  }

  private isOwn(d: Device): boolean {
    const remote = this.session?.remoteAddress;
    if (!remote || this.session?.remoteLan) return false;
    if (d.addresses.includes(remote)) return true;
    if (!this.ipv6Net() || !remote.includes(':')) return false;
    return this.book.holding(remote, true).some(e => e.current.id === d.id);
  }

  /** The active registrations the admin's own connection relies on (none from the LAN). */
  private ownActive(): Device[] {
    const remote = this.session?.remoteAddress;
    if (!remote || this.session?.remoteLan) return [];
    return this.book.holding(remote, this.ipv6Net()).map(e => e.current).filter(d => d.state === 'active');
  }

  private ownKeys(): Set<string> {
    const remote = this.session?.remoteAddress;
    if (!remote || this.session?.remoteLan) return new Set();
    return new Set(this.book.holding(remote, this.ipv6Net()).map(e => e.key));
  }

  private renderOwn(): void {
    if (!this.ownEl) return;
    const remote = this.session?.remoteAddress;
    const s = this.status;
    if (!remote || this.session?.remoteLan || !s || this.conn === 'signed-out' || this.conn === 'refused') {
      this.ownEl.replaceChildren();
      return;
    }
    // Only the first page is here: whether the admin's own address is registered is not known yet.
    if (this.partial) return;
    const active = this.ownActive();
    // A session or a registration until revoked does not end on a clock: nothing to warn about.
    const lasting = active.find(d => d.policy !== 'fixed' || d.expiresAt === null) ?? active.sort((a, b) => (b.expiresAt ?? 0) - (a.expiresAt ?? 0))[0];
    const now = Date.now();
    let note: { kind: string; text: string; action: HTMLElement | null } | null = null;
    if (!lasting) {
      const ended = this.book.holding(remote, this.ipv6Net()).map(e => e.current).sort((a, b) => (b.endedAt ?? 0) - (a.endedAt ?? 0))[0];
      const why = ended ? `Your own access from ${remote} ${ended.state === 'expired' ? 'expired' : `was ${stateText(ended).toLowerCase()}`}${ended.endedAt ? ` at ${shortTime(ended.endedAt)}` : ''}${ended.endedBy && ended.state === 'revoked' ? ` by ${endedBy(ended.endedBy)}` : ''}.`
        : `You are connected from ${remote}, which is not registered.`;
      const then = s.enabled ? ' While Secure IP Access is on, the NAS can cut this session at any moment.' : ' Enabling Secure IP Access would cut this session.';
      note = { kind: 'warn', text: why + then, action: h('button', { class: 'btn small primary', type: 'button', text: 'Register this address', onclick: (e: Event) => void this.registerDialog(e.currentTarget as HTMLElement, remote) }) };
    } else if (lasting.policy === 'fixed' && lasting.expiresAt !== null && lasting.expiresAt - now <= OWN_WARN_MS) {
      const ends = lasting.expiresAt;
      const left = ends - now;
      note = {
        kind: 'warn',
        // Minutes, not seconds: the notice is a live region and should not speak every second.
        text: `Your own access from ${remote} ends ${left > 60_000 ? `in ${Math.ceil(left / 60_000)} minutes` : 'within a minute'} (at ${shortTime(ends)}).${s.enabled ? ' When it ends, the NAS cuts this session.' : ''}`,
        action: lasting.source === 'local'
          ? h('button', { class: 'btn small primary', type: 'button', 'data-key': 'own-extend', text: 'Extend my access', onclick: (e: Event) => void this.extendDialog(lasting, e.currentTarget as HTMLElement) })
          : h('button', { class: 'btn small primary', type: 'button', 'data-key': 'own-register', text: 'Register this address', onclick: (e: Event) => void this.registerDialog(e.currentTarget as HTMLElement, remote) }),
      };
    }
    const sig = note ? `${note.kind}|${note.text}` : '';
    if (this.ownEl.dataset.sig === sig) return;
    const focusKey = (this.root.activeElement as HTMLElement | null)?.dataset.key;
    const hadFocus = this.ownEl.contains(this.root.activeElement);
    this.ownEl.dataset.sig = sig;
    if (!note) {
      this.ownEl.replaceChildren();
      // The warning went away under the keyboard (extended): it goes to the own row's Extend, or the switch.
      if (hadFocus) {
        const keys = [...this.ownKeys()].map(k => `[data-key="${CSS.escape(`extend-${k}`)}"]`).join(', ');
        ((keys && this.listHost.querySelector<HTMLElement>(keys)) || this.switchEl).focus();
      }
      return;
    }
    const prev = this.ownEl.querySelector('.own-text');
    // The text changes every second near the end: update it in place so the button keeps focus.
    if (prev && this.ownEl.querySelector('button')?.textContent === note.action?.textContent) {
      prev.textContent = note.text;
      return;
    }
    this.ownEl.replaceChildren(h('div', { class: `notice ${note.kind} own`, role: 'status' }, h('span', { class: 'own-text', text: note.text }), note.action));
    if (focusKey) this.ownEl.querySelector<HTMLElement>(`[data-key="${focusKey}"]`)?.focus();
  }

  // ---------------------------------------------------------------------------------------------------------
  // Structure (built once)

  private build(): void {
    const id = this.pid;
    this.switchEl = h('button', { class: 'switch', type: 'button', role: 'switch', 'aria-checked': 'false', 'aria-labelledby': `${id}-title`, 'aria-describedby': `${id}-summary`, disabled: true, onclick: () => void this.toggle() },
      h('span', { class: 'knob', 'aria-hidden': 'true' }));
    this.summary = h('p', { id: `${id}-summary`, class: 'summary' });
    this.connEl = h('div', { class: 'notices' });
    this.errorsEl = h('div', { class: 'notices' });
    this.ownEl = h('div', { class: 'notices' });
    this.statusNotes = h('div', { class: 'notices' });
    this.liveEl = h('span', { class: 'live live-loading', text: 'Connecting…' });
    this.announcer = h('div', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true' });

    const header = h('section', { class: 'card head', 'aria-labelledby': `${id}-title` },
      h('div', { class: 'head-row' },
        h('div', { class: 'head-text' },
          h('h1', { id: `${id}-title`, text: 'Secure IP Access' }),
          h('p', { class: 'lede', text: 'When enabled, the NAS accepts internet connections only from registered addresses. Devices on the LAN are never blocked.' })),
        this.switchEl),
      this.summary,
      this.connEl, this.errorsEl, this.ownEl, this.statusNotes);

    // Trusted list
    this.searchEl = h('input', { type: 'search', id: `${id}-q`, placeholder: 'Address, label or QNAP ID', autocomplete: 'off', oninput: (e: Event) => {
      const v = (e.target as HTMLInputElement).value;
      clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => { this.query = v; this.page = 0; this.renderList(); }, SEARCH_DEBOUNCE_MS);
    } });
    this.stateSel = h('select', { id: `${id}-state`, onchange: (e: Event) => { this.stateFilter = (e.target as HTMLSelectElement).value as StateFilter; this.page = 0; this.renderList(); } },
      h('option', { value: 'active', text: 'Active', selected: true }), h('option', { value: 'ended', text: 'Ended (history)' }), h('option', { value: 'all', text: 'All' }));
    const sourceSel = h('select', { id: `${id}-source`, onchange: (e: Event) => { this.sourceFilter = (e.target as HTMLSelectElement).value as SourceFilter; this.page = 0; this.renderList(); } },
      h('option', { value: 'all', text: 'All sources' }), h('option', { value: 'portal', text: 'myQNAPcloud' }), h('option', { value: 'local', text: 'Local' }));
    this.deviceCount = h('span', { class: 'count', 'aria-live': 'polite' });
    this.tbody = h('tbody');
    this.table = h('table', { class: 'grid devices', 'aria-label': 'Trusted list' },
      h('colgroup', {}, ...['c-addr', 'c-label', 'c-source col-opt', 'c-term col-opt', 'c-left', 'c-state', 'c-act'].map(c => h('col', { class: c }))),
      h('thead', {}, h('tr', {}, ...[['Address', ''], ['Label', ''], ['Source', 'col-opt'], ['Term', 'col-opt'], ['Remaining', ''], ['Status', ''], ['Actions', '']].map(([t, c]) => h('th', { scope: 'col', class: c, text: t })))),
      this.tbody);
    this.cards = h('ul', { class: 'cards', 'aria-label': 'Trusted list' });
    this.deviceEmpty = h('div', { class: 'empty', hidden: true });
    this.listHost = h('div', { class: 'list-host' }, this.table, this.cards);
    this.pagerText = h('span', { class: 'pager-text', 'aria-live': 'polite' });
    this.prevBtn = h('button', { class: 'btn small', type: 'button', text: 'Previous page', onclick: () => this.turn(-1) });
    this.nextBtn = h('button', { class: 'btn small', type: 'button', text: 'Next page', onclick: () => this.turn(1) });
    const devicesPanel = h('div', { class: 'tabpanel', role: 'tabpanel', id: `${id}-p-devices`, 'aria-labelledby': `${id}-t-devices` },
      h('div', { class: 'toolbar', role: 'search' },
        h('label', { for: `${id}-q`, class: 'sr-only', text: 'Search the trusted list' }), this.searchEl,
        h('span', { class: 'pair' }, h('label', { for: `${id}-state`, text: 'Show' }), this.stateSel),
        h('span', { class: 'pair' }, h('label', { for: `${id}-source`, text: 'Source' }), sourceSel),
        h('span', { class: 'spacer' }), this.deviceCount),
      h('div', { class: 'toolbar actions' },
        this.registerBtn = h('button', { class: 'btn primary', type: 'button', 'data-key': 'register', text: 'Register a device', onclick: (e: Event) => void this.registerDialog(e.currentTarget as HTMLElement) }),
        h('span', { class: 'spacer' }),
        h('button', { class: 'btn', type: 'button', onclick: () => void this.exportDevices('csv'), title: 'Download every row of this view as CSV', text: 'Export CSV' }),
        h('button', { class: 'btn', type: 'button', onclick: () => void this.exportDevices('json'), title: 'Download every row of this view as JSON', text: 'Export JSON' })),
      this.listHost,
      this.deviceEmpty,
      h('nav', { class: 'pager', 'aria-label': 'Trusted list pages' }, this.pagerText, this.prevBtn, this.nextBtn));

    // Audit log
    const auditSearch = h('input', { type: 'search', id: `${id}-aq`, placeholder: 'Filter the log', autocomplete: 'off', oninput: (e: Event) => {
      const v = (e.target as HTMLInputElement).value;
      clearTimeout(this.auditSearchTimer);
      this.auditSearchTimer = window.setTimeout(() => { this.auditQuery = v; this.auditTrail = []; this.auditBefore = null; this.auditDirty = true; void this.loadAudit(); }, 300);
    } });
    this.auditBody = h('tbody');
    this.auditEmpty = h('div', { class: 'empty', hidden: true });
    this.auditNewer = h('button', { class: 'btn small', type: 'button', text: 'Newer entries', onclick: () => this.auditTurn(-1) });
    this.auditOlderBtn = h('button', { class: 'btn small', type: 'button', text: 'Older entries', onclick: () => this.auditTurn(1) });
    this.auditPager = h('span', { class: 'pager-text', 'aria-live': 'polite' });
    const auditPanel = h('div', { class: 'tabpanel', role: 'tabpanel', id: `${id}-p-audit`, 'aria-labelledby': `${id}-t-audit`, hidden: true },
      h('div', { class: 'toolbar', role: 'search' },
        h('label', { for: `${id}-aq`, class: 'sr-only', text: 'Filter the audit log' }), auditSearch,
        h('span', { class: 'spacer' }),
        h('button', { class: 'btn', type: 'button', onclick: () => void this.exportAudit('csv'), title: 'Download every entry that matches the filter as CSV', text: 'Export CSV' }),
        h('button', { class: 'btn', type: 'button', onclick: () => void this.exportAudit('json'), title: 'Download every entry that matches the filter as JSON', text: 'Export JSON' })),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'grid audit', 'aria-label': 'Audit log' },
          h('thead', {}, h('tr', {}, ...['Time', 'Who', 'Action', 'Address', 'Detail'].map(t => h('th', { scope: 'col', text: t })))),
          this.auditBody),
        this.auditEmpty),
      h('nav', { class: 'pager', 'aria-label': 'Audit log pages' }, this.auditPager, this.auditNewer, this.auditOlderBtn));

    const tab = (key: Tab, label: string) => h('button', {
      role: 'tab', type: 'button', id: `${id}-t-${key}`, 'aria-controls': `${id}-p-${key}`, 'aria-selected': key === 'devices' ? 'true' : 'false',
      tabindex: key === 'devices' ? '0' : '-1', class: 'tab', text: label, onclick: () => this.selectTab(key), onkeydown: (e: Event) => this.tabKeys(e as KeyboardEvent),
    });
    this.tabs = { devices: { tab: tab('devices', 'Trusted list'), panel: devicesPanel }, audit: { tab: tab('audit', 'Audit log'), panel: auditPanel } };

    this.content = h('section', { class: 'card', 'aria-label': 'Devices and log' },
      h('div', { class: 'tabbar' },
        h('div', { role: 'tablist', 'aria-label': 'Secure IP Access views' }, this.tabs.devices.tab, this.tabs.audit.tab),
        this.liveEl),
      devicesPanel, auditPanel);
    this.main = h('div', { class: 'body' }, this.content);
    this.panelEl = h('div', { class: 'panel' }, header, this.main, this.announcer);
    this.root.replaceChildren(this.panelEl);
  }

  /** Below a width the list is one card per device; in between, the optional columns go. */
  private fit(): void {
    const w = this.getBoundingClientRect().width || this.clientWidth;
    const layout: Layout = w < NARROW_PX ? 'narrow' : w < MEDIUM_PX ? 'medium' : 'wide';
    if (layout === this.layout && this.panelEl.classList.contains(layout)) return;
    this.panelEl.classList.remove('wide', 'medium', 'narrow');
    this.panelEl.classList.add(layout);
    const changed = layout !== this.layout;
    this.layout = layout;
    if (changed) this.renderList();
  }

  private selectTab(key: Tab, focus = false): void {
    this.tab = key;
    for (const [k, { tab, panel }] of Object.entries(this.tabs)) {
      const on = k === key;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      panel.hidden = !on;
    }
    if (focus) this.tabs[key].tab.focus();
    if (key === 'audit' && this.auditDirty && this.conn === 'live') void this.loadAudit();
  }

  private tabKeys(e: KeyboardEvent): void {
    // The WAI-ARIA tabs pattern: arrows move to the next or previous tab, wrapping; Home and End to the ends.
    const at = TABS.indexOf(this.tab);
    const next: Tab | null = e.key === 'ArrowRight' ? TABS[(at + 1) % TABS.length]
      : e.key === 'ArrowLeft' ? TABS[(at - 1 + TABS.length) % TABS.length]
      : e.key === 'Home' ? TABS[0] : e.key === 'End' ? TABS[TABS.length - 1] : null;
    if (!next) return;
    e.preventDefault();
    this.selectTab(next, true);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Rendering

  private renderAll(): void {
    this.renderStatus();
    this.renderConn();
    if (this.conn === 'refused' || this.conn === 'failed' || this.conn === 'signed-out') {
      this.main.replaceChildren(this.stateCard());
      return;
    }
    if (!this.main.contains(this.content)) this.main.replaceChildren(this.content);
    this.main.classList.toggle('stale', this.conn === 'unreachable');
    this.content.setAttribute('aria-busy', String(this.conn === 'loading'));
    this.renderList();
    this.renderAudit();
  }

  /** Signed out, refused, or broken: what happened and the way back. */
  private stateCard(): HTMLElement {
    const f = this.failure;
    if (this.conn === 'signed-out') {
      const login = this.getAttribute('login-url') ?? '/';
      return h('section', { class: 'card state-card', role: 'alert' },
        h('h2', { text: this.everLive ? 'Your QTS session has ended' : 'Sign in to QTS as an administrator' }),
        h('p', { text: 'This page can no longer show or change Secure IP Access. Enforcement on the NAS goes on as before. Sign in to QTS again, then reload this page.' }),
        h('p', { class: 'state-actions' },
          h('a', { class: 'btn primary', href: login, target: '_top', text: 'Sign in to QTS' }),
          h('button', { class: 'btn', type: 'button', text: 'Reload', onclick: () => void this.start() })));
    }
    const admin = f?.status === 403 && f.code === 'not_admin';
    const title = admin ? 'Administrators only' : 'Secure IP Access cannot be shown';
    return h('section', { class: 'card state-card', role: 'alert' },
      h('h2', { text: title }),
      h('p', { text: sentence(f?.message ?? 'Something went wrong.') }),
      admin ? null : h('button', { class: 'btn primary', type: 'button', text: 'Retry', onclick: () => void this.start() }));
  }

  private canAct(): boolean {
    return this.conn === 'live' && !this.busy;
  }

  private renderConn(): void {
    const labels: Record<Conn, string> = { loading: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', unreachable: 'Not connected', 'signed-out': 'Signed out', refused: 'Offline', failed: 'Offline' };
    this.liveEl.textContent = labels[this.conn];
    this.liveEl.className = `live live-${this.conn}`;
    if (this.conn !== 'unreachable') {
      if (this.connEl.childElementCount) this.connEl.replaceChildren();
      return;
    }
    const wait = Math.max(0, Math.ceil((this.retryAt - Date.now()) / 1000));
    const when = this.confirmedAt ? `was last confirmed at ${dateTime(this.confirmedAt)}` : 'could not be loaded';
    const text = `What this page shows ${when} and may be out of date; nothing can be changed until the service answers. ${wait > 0 ? `Trying again in ${wait} s.` : 'Trying again now…'}`;
    const existing = this.connEl.querySelector('.conn-text');
    if (existing) {
      if (existing.textContent !== text) existing.textContent = text;
      return;
    }
    this.connEl.replaceChildren(h('div', { class: 'notice error conn', role: 'alert' },
      h('div', {}, h('strong', { text: 'Secure IP Access is not answering. ' }), h('span', { class: 'conn-text', text })),
      h('button', { class: 'btn small', type: 'button', text: 'Try now', onclick: () => this.retryNow() })));
  }

  private renderStatus(): void {
    const s = this.status;
    const known = !!s && (this.conn === 'live' || this.conn === 'reconnecting' || this.conn === 'loading');
    const enabled = !!s?.enabled;
    this.switchEl.setAttribute('aria-checked', String(enabled));
    // Disabled only when there is nothing to switch; while busy or unreachable it keeps focus but does nothing.
    this.switchEl.disabled = !s || this.conn === 'refused' || this.conn === 'signed-out' || this.conn === 'failed';
    this.switchEl.setAttribute('aria-disabled', String(!this.canAct()));
    this.switchEl.setAttribute('aria-busy', String(this.busy));
    this.registerBtn.setAttribute('aria-disabled', String(!this.canAct()));
    if (!s) {
      this.summary.textContent = this.conn === 'loading' ? 'Loading…' : 'Status unknown.';
      this.statusNotes.replaceChildren();
      this.renderOwn();
      return;
    }
    const active = this.partial?.total ?? this.book.activeCount;
    const portal = s.portal;
    const pill = !known
      ? h('span', { class: 'pill unknown', text: this.conn === 'signed-out' ? 'Signed out: status not shown' : `Status unknown (last known: ${enabled ? 'on' : 'off'})` })
      : h('span', { class: `pill ${enabled ? 'on' : 'off'}`, text: enabled ? (s.enforcing ? 'On: enforcing' : 'On: not enforcing yet') : 'Off: every internet address can connect' });
    const facts: Array<HTMLElement | null> = [
      pill,
      h('span', { class: 'fact', text: `${active} active ${active === 1 ? 'device' : 'devices'}` }),
      h('span', { class: 'fact', text: `LAN never blocked: ${s.lanNetworks.length ? s.lanNetworks.join(', ') : 'none detected'}` }),
      h('span', { class: 'fact', text: `IPv6: ${s.ipv6Scope === 'address' ? 'each address alone (/128)' : "a device's network (/64)"}` }),
      h('span', { class: 'fact portal', text: `myQNAPcloud: ${!portal.configured ? 'not configured' : !portal.bound ? 'not linked to a QNAP ID' : portal.connected ? 'linked, connected' : 'linked, not connected'}` }),
      portal.configured && !portal.bound && known
        ? h('button', { class: 'btn small', type: 'button', 'data-key': 'bind', text: 'Link to a QNAP ID', onclick: (e: Event) => void this.bindDialog(e.currentTarget as HTMLElement) })
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
    this.statusNotes.replaceChildren(...notes);
    this.renderOwn();
    // A link that is bound but not connected yet (just bound, or the portal is away) is asked about more often.
    if (known && portal.bound && !portal.connected && !this.portalTimer) {
      this.portalTimer = window.setTimeout(() => {
        this.portalTimer = 0;
        if (this.conn === 'live') void this.refreshStatus();
      }, PORTAL_POLL_MS);
    }
  }

  private view(): Entry[] {
    const key = `${this.stateFilter}|${this.sourceFilter}|${this.query}`;
    if (this.viewCache?.key === key && this.viewCache.version === this.book.version) return this.viewCache.rows;
    const rows = this.book.view(this.stateFilter, this.sourceFilter, this.query);
    this.viewCache = { key, version: this.book.version, rows };
    return rows;
  }

  /** Live events change the book; the page is drawn once per frame however many arrive. */
  private queueRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = requestAnimationFrame(() => {
      this.renderQueued = 0;
      this.renderList();
      this.renderStatus();
    });
  }

  private turn(by: number): void {
    this.page += by;
    this.renderList();
    (by < 0 ? this.prevBtn : this.nextBtn).focus();
    if ((by < 0 ? this.prevBtn : this.nextBtn).disabled) (by < 0 ? this.nextBtn : this.prevBtn).focus();
  }

  private renderList(): void {
    if (!this.tbody || this.conn === 'refused' || this.conn === 'signed-out' || this.conn === 'failed') return;
    // With only the first page here, the default view's first page is exact; any other waits for the whole list.
    const waiting = this.partial !== null && (this.stateFilter !== 'active' || this.sourceFilter !== 'all' || this.query.trim() !== '' || this.page > 0);
    const rows = waiting ? [] : this.view();
    const total = this.partial && !waiting ? this.partial.total : rows.length;
    const pages = Math.max(1, Math.ceil((waiting ? (this.page + 1) * PAGE_SIZE : total) / PAGE_SIZE));
    this.page = Math.min(Math.max(0, this.page), pages - 1);
    const start = this.page * PAGE_SIZE;
    const shown = rows.slice(start, start + PAGE_SIZE);
    const narrow = this.layout === 'narrow';
    const own = this.ownKeys();
    const stale = !this.canAct();
    const focused = this.root.activeElement as HTMLElement | null;
    const focusKey = focused && this.listHost.contains(focused) ? focused.dataset.key : undefined;
    const next = new Map<string, { sig: string; els: HTMLElement[] }>();
    const els: HTMLElement[] = [];
    for (const e of shown) {
      const sig = `${e.rev}|${e.current.id}|${narrow}|${own.has(e.key)}|${this.expanded.has(e.key)}|${stale}|${this.status?.ipv6Scope}`;
      let built = this.rowCache.get(e.key);
      if (!built || built.sig !== sig) {
        const c = this.rowContext(e, own.has(e.key), stale);
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

    if (focusKey && !this.listHost.contains(this.root.activeElement)) {
      this.listHost.querySelector<HTMLElement>(`[data-key="${focusKey}"]`)?.focus();
    }
    if (this.pendingFocus) {
      const buttons = [...this.listHost.querySelectorAll<HTMLElement>('[data-role="revoke"]')];
      const target = buttons[Math.min(this.pendingFocus.index, buttons.length - 1)] ?? this.searchEl;
      this.pendingFocus = null;
      target.focus();
    }

    this.deviceCount.textContent = waiting ? 'Loading…' : `${total} shown · ${this.partial?.total ?? this.book.activeCount} active`;
    this.pagerText.textContent = total ? `${start + 1}–${start + shown.length} of ${total}` : '';
    this.prevBtn.disabled = this.page === 0;
    this.nextBtn.disabled = this.page >= pages - 1;
    this.prevBtn.hidden = this.nextBtn.hidden = pages <= 1;
    this.deviceEmpty.hidden = !waiting && (total > 0 || this.conn === 'loading');
    if (waiting) {
      this.deviceEmpty.replaceChildren(h('strong', { text: 'Loading the whole list…' }));
    } else if (!total) {
      const filtered = this.query.trim() || this.sourceFilter !== 'all';
      this.deviceEmpty.replaceChildren(...(this.book.size === 0
        ? [h('strong', { text: 'No registered devices yet.' }), h('span', { text: ' A device appears here when its owner registers it on myQNAPcloud (Secure IP Access → Register), or when an administrator registers an address.' })]
        : filtered
          ? [h('strong', { text: 'No device matches.' }), h('span', { text: ' Clear the search or the filters to see the whole list.' })]
          : this.stateFilter === 'active'
            ? [h('strong', { text: 'No active devices.' }), h('span', { text: ' Choose Show: Ended (history) to see devices whose access has ended.' })]
            : [h('strong', { text: 'No ended devices.' })]));
    }
  }

  private rowContext(e: Entry, own: boolean, stale: boolean): RowContext {
    return {
      pid: this.pid, own, stale, expanded: this.expanded.has(e.key), ipv6Net: this.ipv6Net(),
      toggle: () => {
        if (this.expanded.has(e.key)) this.expanded.delete(e.key);
        else this.expanded.add(e.key);
        this.renderList();
      },
      extend: (d, opener) => void this.extendDialog(d, opener),
      revoke: (entry, opener) => void this.confirmRevoke(entry, opener),
    };
  }

  private auditTurn(by: number): void {
    if (by > 0) {
      if (!this.audit.length) return;
      this.auditTrail.push(this.auditBefore);
      this.auditBefore = this.audit[this.audit.length - 1].id;
    } else {
      this.auditBefore = this.auditTrail.pop() ?? null;
    }
    this.auditDirty = true;
    void this.loadAudit().then(() => (by > 0 ? (this.auditOlderBtn.disabled ? this.auditNewer : this.auditOlderBtn) : (this.auditNewer.disabled ? this.auditOlderBtn : this.auditNewer)).focus());
  }

  private renderAudit(): void {
    if (!this.auditBody || this.conn === 'refused' || this.conn === 'signed-out' || this.conn === 'failed') return;
    this.auditBody.replaceChildren(...this.audit.map(a => h('tr', {},
      h('td', { class: 'num', text: dateTime(a.at) }),
      h('td', { class: 'trunc', title: actor(a.surface, a.actor), text: actor(a.surface, a.actor) }),
      h('td', { text: actionText(a.action) }),
      h('td', { class: 'mono addr', text: a.address ?? '—' }),
      h('td', { class: 'wrap', text: detailText(a) || '—' }))));
    const first = this.auditTrail.length * AUDIT_PAGE;
    this.auditPager.textContent = this.audit.length ? `Entries ${first + 1}–${first + this.audit.length}, newest first${this.auditOlder ? '' : ' (the oldest kept)'}` : '';
    this.auditNewer.disabled = this.auditBefore === null;
    this.auditOlderBtn.disabled = !this.auditOlder;
    this.auditEmpty.hidden = this.audit.length > 0;
    this.auditEmpty.textContent = this.auditQuery.trim() ? 'No entry matches the filter.' : 'The audit log is empty.';
  }

  // ---------------------------------------------------------------------------------------------------------
  // Actions

  /** Runs an action; a failure stays on screen (what failed, why, what to do) until dismissed or retried. */
  private async act(key: string, what: string, work: () => Promise<void>): Promise<boolean> {
    this.busy = true;
    this.renderStatus();
    try {
      await work();
      this.clearError(key);
      return true;
    } catch (e) {
      const f = asFailure(e);
      this.showError(key, what, f);
      this.trouble(f);
      if (f.unreachable) this.retryNow();
      return false;
    } finally {
      this.busy = false;
      this.renderStatus();
      this.queueRender();
      if (this.conn === 'live') void this.refreshStatus();
    }
  }

  private showError(key: string, what: string, f: ApiFailure): void {
    const advice = f.signedOut ? ' Sign in to QTS again, then try once more.'
      : f.unreachable ? ' Whether it took effect shows once the service answers again; then try once more if needed.'
        : f.status === 503 ? ' Try again; if it keeps failing, run "sipa doctor" on the NAS.'
          : f.status === 507 ? ' Free space on the NAS data partition.'
            : '';
    const text = `${what} failed. ${sentence(f.message)}${advice}`;
    const note = h('div', { class: 'notice error', role: 'alert', 'data-error': key },
      h('span', { text }),
      h('button', { class: 'btn small', type: 'button', text: 'Dismiss', 'aria-label': `Dismiss: ${what} failed`, onclick: () => {
        this.clearError(key);
        this.switchEl.focus();
      } }));
    this.errorNotes.get(key)?.remove();
    this.errorNotes.set(key, note);
    this.errorsEl.append(note);
  }

  private clearError(key: string): void {
    this.errorNotes.get(key)?.remove();
    this.errorNotes.delete(key);
  }

  /** Focus goes back to what opened the dialog, or to what took its place (same key, or `fallbackKey`). */
  private dialog(o: Omit<Parameters<typeof openDialog>[1], 'restore'> & { opener?: HTMLElement; restore?: (v: string) => void; fallbackKey?: string }): Promise<string> {
    const opener = o.opener ?? (this.root.activeElement as HTMLElement | null) ?? this.switchEl;
    const keys = [opener.dataset.key, o.fallbackKey].filter((k): k is string => !!k);
    return openDialog(this.panelEl, {
      ...o,
      restore: o.restore ?? (() => {
        const found = keys.map(k => this.root.querySelector<HTMLElement>(`[data-key="${CSS.escape(k)}"]`)).find(Boolean);
        (opener.isConnected ? opener : found ?? this.switchEl).focus();
      }),
    });
  }

  private notNow(): boolean {
    if (this.canAct()) return false;
    if (!this.busy) this.say(this.conn === 'unreachable' ? 'Nothing can be changed while the service is not answering.' : 'Please wait.');
    return true;
  }

  private async toggle(): Promise<void> {
    if (!this.status || this.notNow()) return;
    if (this.status.enabled) {
      const ok = await this.dialog({
        role: 'alertdialog', title: 'Disable Secure IP Access?', opener: this.switchEl,
        body: [h('p', { text: 'Any internet address will be able to reach NAS services again, subject to your other QuFirewall rules. Registered devices stay in the list.' })],
        actions: [{ label: 'Cancel', value: '' }, { label: 'Disable', value: 'disable', kind: 'danger' }], initial: 0,
      });
      if (ok === 'disable') await this.act('switch', 'Disable Secure IP Access', () => this.api.disable().then(s => { this.status = s; }));
      return;
    }
    let session: Session;
    try {
      session = await this.api.session();
      this.session = session;
    } catch (e) {
      const f = asFailure(e);
      this.showError('switch', 'Enable Secure IP Access', f);
      this.trouble(f);
      return;
    }
    if (this.status.portal.configured && !this.status.portal.bound) {
      const go = await this.dialog({
        role: 'alertdialog', title: 'Link the NAS to a QNAP ID first', opener: this.switchEl,
        body: [
          h('p', { text: 'Devices register for Secure IP Access through myQNAPcloud, and this NAS is not linked to a QNAP ID yet, so no device can register itself.' }),
          h('p', { text: 'Link it now with a pairing code from myQNAPcloud, or enable without one (only addresses an administrator registers can connect).' }),
        ],
        actions: [{ label: 'Cancel', value: '' }, { label: 'Enable without a QNAP ID', value: 'go' }, { label: 'Link to a QNAP ID', value: 'link', kind: 'primary' }], initial: 0,
      });
      if (go === 'link') {
        await this.bindDialog(this.switchEl);
        return;
      }
      if (go !== 'go') return;
    }
    const remote = session.remoteAddress;
    const exposed = !!remote && !session.remoteLan && !session.remoteRegistered;
    const periodSel = h('select', { id: `${this.pid}-period` }, ...DURATIONS.filter(([, s]) => s >= 900).map(([label, s]) => h('option', { value: String(s), text: label, selected: s === 3600 })),
      this.status.allowUntilRevoked ? h('option', { value: 'until-revoked', text: 'Until revoked' }) : null);
    const body: HTMLElement[] = [
      h('p', { text: 'The NAS will accept connections from the internet only from registered addresses. Open connections from other addresses are cut.' }),
      h('p', { text: `Devices on the LAN are never blocked${this.status.lanNetworks.length ? ` (${this.status.lanNetworks.join(', ')})` : ''}.` }),
    ];
    if (exposed) {
      body.push(h('div', { class: 'notice warn', role: 'alert' },
        h('strong', { text: `You are connected from ${remote}, which is not registered.` }),
        h('span', { text: ' Enabling now would cut this session and lock you out. Register this address first:' })),
      h('p', { class: 'field' }, h('label', { for: `${this.pid}-period`, text: `Keep ${remote} registered for ` }), periodSel));
    }
    const choice = await this.dialog({
      role: exposed ? 'alertdialog' : 'dialog', title: 'Enable Secure IP Access', body, opener: this.switchEl,
      actions: exposed
        ? [{ label: 'Cancel', value: '' }, { label: 'Enable anyway', value: 'enable', kind: 'danger' }, { label: 'Register and enable', value: 'register', kind: 'primary' }]
        : [{ label: 'Cancel', value: '' }, { label: 'Enable Secure IP Access', value: 'enable', kind: 'primary' }],
      initial: exposed ? 2 : 1,
    });
    if (choice === 'register') {
      await this.act('switch', 'Register your address and enable', async () => {
        const d = await this.api.register({ address: remote as string, label: `Admin session (${session.user})`, period: periodSel.value === 'until-revoked' ? 'until-revoked' : Number(periodSel.value) });
        this.book.put(d);
        this.status = await this.api.enable();
        this.session = await this.api.session();
      });
    } else if (choice === 'enable') {
      await this.act('switch', 'Enable Secure IP Access', () => this.api.enable().then(s => { this.status = s; }));
    }
  }

  private async confirmRevoke(e: Entry, opener: HTMLElement): Promise<void> {
    if (this.notNow()) return;
    const d = e.current;
    const own = this.isOwn(d);
    const reason = h('input', { type: 'text', maxlength: '200', placeholder: 'optional', autocomplete: 'off' });
    const reasonField = field('Reason', reason);
    const index = [...this.listHost.querySelectorAll('[data-role="revoke"]')].indexOf(opener);
    let revoked = false;
    await this.dialog({
      role: 'alertdialog', title: 'Revoke Request', opener,
      body: [
        h('p', {}, 'Revoke internet access for ', h('strong', { class: 'mono', text: d.address }), d.label ? ` (${d.label})` : '', d.addresses.length > 1 ? ` and its ${d.addresses.length - 1} other address${d.addresses.length > 2 ? 'es' : ''}` : '', '?'),
        own ? h('div', { class: 'notice warn', role: 'alert', text: 'This is the address you are connected from: while Secure IP Access is on, revoking it cuts this session.' }) : h('span'),
        h('p', { text: 'The device loses access at once and its open connections are cut. It cannot connect again until it is registered once more.' }),
        reasonField.wrap,
      ],
      actions: [{ label: 'Cancel', value: '' }, { label: 'Revoke Request', value: 'revoke', kind: 'danger' }],
      initial: 0,
      restore: v => {
        if (v !== 'revoke') opener.focus();
      },
      submit: async () => {
        revoked = await this.act(`revoke-${e.key}`, `Revoke Request for ${d.address}`, async () => {
          this.book.put(await this.api.revoke(d.id, reason.value.trim() || 'revoked in QuFirewall'));
        });
      },
    });
    if (!revoked) {
      // Failed: the error is on screen; the keyboard goes back to the button (or its row, drawn again).
      this.renderList();
      const again = this.listHost.querySelector<HTMLElement>(`[data-key="${CSS.escape(`revoke-${e.key}`)}"]`);
      (again ?? this.errorsEl.querySelector<HTMLElement>('button') ?? this.switchEl).focus();
      return;
    }
    // The row leaves the active list: the keyboard goes to the row that took its place.
    const still = this.view().includes(this.book.get(e.key) as Entry);
    if (still) {
      this.renderList();
      this.listHost.querySelector<HTMLElement>(`[data-key="${CSS.escape(`row-${e.key}`)}"], [data-key="${CSS.escape(`details-${e.key}`)}"]`)?.focus();
    } else {
      this.pendingFocus = { index: Math.max(0, index) };
      this.renderList();
    }
  }

  private async registerDialog(opener: HTMLElement, address = ''): Promise<void> {
    if (this.notNow()) return;
    const addr = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', value: address, placeholder: '203.0.113.7 or 2001:db8::7' });
    const more = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'optional, separated by spaces' });
    const label = h('input', { type: 'text', autocomplete: 'off', maxlength: '200', placeholder: 'e.g. Ana’s laptop' });
    const fAddr = field('Address', addr, 'The public address the device connects from.');
    const fMore = field('More addresses of this device', more, 'At most one IPv4 and a few IPv6 addresses in all.');
    const fLabel = field('Label', label);
    const dur = durationField(3600, this.status?.allowUntilRevoked === true);
    const general = h('div', { class: 'notice error', role: 'alert', hidden: true });
    const fields = {
      address: { setError: fAddr.setError, focus: () => addr.focus() },
      moreAddresses: { setError: fMore.setError, focus: () => more.focus() },
      label: { setError: fLabel.setError, focus: () => label.focus() },
      expiry: { setError: dur.setError, focus: dur.focus },
    };
    await this.dialog({
      role: 'dialog', title: 'Register a device', opener,
      body: [general, fAddr.wrap, fMore.wrap, fLabel.wrap, dur.wrap, h('p', { class: 'sub', text: 'An address registered again is renewed: its new period replaces the old one.' })],
      actions: [{ label: 'Cancel', value: '' }, { label: 'Register', value: 'register', kind: 'primary' }],
      initial: address ? label : addr,
      submit: async () => {
        for (const f of [fAddr, fMore, fLabel]) f.setError(null);
        dur.setError(null);
        general.hidden = true;
        const period = dur.period();
        if (period === null) return false;
        try {
          const d = await this.api.register({ address: addr.value.trim(), moreAddresses: more.value.trim() ? more.value.trim().split(/[\s,]+/) : undefined, label: label.value, period });
          this.book.put(d);
          this.clearError('register');
          this.queueRender();
          this.say(`${describe(d)} is registered ${untilText(d)}.`);
          return true;
        } catch (e) {
          const f = asFailure(e);
          if (f.status === 400 || f.status === 409) {
            fieldError(f, fields, general);
            return false;
          }
          this.showError('register', `Register ${addr.value.trim() || 'a device'}`, f);
          this.trouble(f);
          return true;
        }
      },
    });
  }

  private async extendDialog(d: Device, opener: HTMLElement): Promise<void> {
    if (this.notNow()) return;
    const granted = d.expiresAt === null ? 0 : d.expiresAt - d.registeredAt;
    const dur = durationField(granted >= 3600_000 ? 3600 * Math.min(12, Math.round(granted / 3600_000)) : 3600, this.status?.allowUntilRevoked === true);
    const general = h('div', { class: 'notice error', role: 'alert', hidden: true });
    const key = `extend-${d.id}`;
    await this.dialog({
      role: 'dialog', title: `Extend access for ${d.address}`, opener, fallbackKey: `extend-${keyOf(d)}`,
      body: [
        general,
        h('p', { text: `${d.label ? `${d.label}: ` : ''}access now ends ${d.expiresAt === null ? 'only when it is revoked' : `at ${dateTime(d.expiresAt)}`}. The new period starts now and replaces the old one.` }),
        dur.wrap,
      ],
      actions: [{ label: 'Cancel', value: '' }, { label: 'Extend', value: 'extend', kind: 'primary' }],
      initial: 1,
      submit: async () => {
        dur.setError(null);
        general.hidden = true;
        const period = dur.period();
        if (period === null) return false;
        try {
          const after = await this.api.register({ address: d.address, moreAddresses: d.addresses.slice(1), label: d.label, period });
          this.book.put(after);
          this.clearError(key);
          this.queueRender();
          this.say(`Access for ${describe(after)} now lasts ${untilText(after)}.`);
          return true;
        } catch (e) {
          const f = asFailure(e);
          if (f.status === 400) {
            fieldError(f, { expiry: { setError: dur.setError, focus: dur.focus } }, general);
            return false;
          }
          this.showError(key, `Extend ${d.address}`, f);
          this.trouble(f);
          return true;
        }
      },
    });
  }

  /** The binding flow: the pairing code myQNAPcloud shows its owner, entered here. */
  private async bindDialog(opener: HTMLElement): Promise<void> {
    if (this.notNow()) return;
    const code = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: '16', class: 'mono code', placeholder: 'ABCD2345' });
    const f = field('Pairing code', code, 'The 8 letters and digits myQNAPcloud shows under Secure IP Access → Link a NAS.');
    const general = h('div', { class: 'notice error', role: 'alert', hidden: true });
    await this.dialog({
      role: 'dialog', title: 'Link the NAS to a QNAP ID', opener,
      body: [
        general,
        h('ol', { class: 'steps' },
          h('li', { text: 'On myQNAPcloud, sign in with the QNAP ID that should own this NAS.' }),
          h('li', { text: 'Open Secure IP Access → Link a NAS; it shows a pairing code.' }),
          h('li', { text: 'Enter the code here. Devices can then register themselves from myQNAPcloud.' })),
        f.wrap,
      ],
      actions: [{ label: 'Cancel', value: '' }, { label: 'Link', value: 'link', kind: 'primary' }],
      initial: code,
      submit: async () => {
        f.setError(null);
        general.hidden = true;
        if (!code.value.trim()) {
          f.setError('Enter the pairing code myQNAPcloud shows.');
          code.focus();
          return false;
        }
        try {
          await this.api.bind(code.value.trim());
          this.clearError('bind');
          void this.refreshStatus();
          return true;
        } catch (e) {
          const fl = asFailure(e);
          if (fl.status === 400 || fl.status === 409 || fl.status === 502) {
            fieldError(fl, { code: { setError: f.setError, focus: () => code.focus() } }, general);
            if (!fl.field) {
              f.setError(sentence(fl.message));
              general.hidden = true;
              code.focus();
            }
            return false;
          }
          this.showError('bind', 'Link to a QNAP ID', fl);
          this.trouble(fl);
          return true;
        }
      },
    });
  }

  private async exportDevices(kind: 'csv' | 'json'): Promise<void> {
    if (this.restLoading) await this.restLoading;
    saveDevices(kind, this.view().map(e => e.current));
  }

  /** Every entry that matches the filter, fetched a page at a time from the service. */
  private async exportAudit(kind: 'csv' | 'json'): Promise<void> {
    const all: AuditEntry[] = [];
    try {
      for (let before: number | null = null; ;) {
        const page = await this.api.audit({ limit: 1000, before, q: this.auditQuery.trim() });
        all.push(...page);
        if (page.length < 1000) break;
        before = page[page.length - 1].id;
      }
      this.clearError('export-audit');
    } catch (e) {
      const f = asFailure(e);
      this.showError('export-audit', 'Export of the audit log', f);
      this.trouble(f);
      return;
    }
    saveAudit(kind, all, this.auditQuery.trim());
  }
}

/** "until 17:42", or "until revoked". */
function untilText(d: Device): string {
  return d.expiresAt === null ? 'until revoked' : `until ${shortTime(d.expiresAt)}`;
}

function describe(d: Device): string {
  return d.label ? `${d.address} (${d.label})` : d.address;
}

/** Dev/demo only: a bearer token handed over in the page's #token=… (kept for the tab, then removed from the URL). */
function devToken(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('sipa-token', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem('sipa-token');
}

if (!customElements.get('sipa-panel')) customElements.define('sipa-panel', SipaPanel);
