// <sipa-panel>: the Secure IP Access page of QuFirewall. Plain DOM in a shadow root; all text is set with
// textContent (no markup from data). Attributes: api-base (default "api/v1/", relative to the page).
import { ApiClient, ApiFailure, AuditEntry, Device, EngineEvents, Session, Status } from './api';
import { clock, dateTime, download, shortTime, spoken, stamp, toCsv } from './format';
import css from './styles.css';

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | number | EventListener | undefined | null>;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

const SOON_MS = 60_000;
const PERIODS: Array<[string, number]> = [['15 minutes', 900], ['1 hour', 3600], ['4 hours', 14400], ['8 hours', 28800], ['12 hours', 43200]];

let uid = 0;

export class SipaPanel extends HTMLElement {
  private readonly root: ShadowRoot;
  private api!: ApiClient;
  private session: Session | null = null;
  private status: Status | null = null;
  private devices: Device[] = [];
  private audit: AuditEntry[] = [];
  private loadError: ApiFailure | null = null;
  private tab: 'devices' | 'audit' = 'devices';
  private query = '';
  private stateFilter: 'all' | 'active' | 'ended' = 'all';
  private sourceFilter: 'all' | 'portal' | 'local' = 'all';
  private auditQuery = '';
  private live: 'connecting' | 'live' | 'reconnecting' | 'off' = 'connecting';
  private announced = new Map<number, 'soon' | 'ended'>();
  private busy = false;
  private ticker = 0;
  private stream: AbortController | null = null;
  private refreshTimer = 0;
  private readonly pid = `sipa${++uid}`;

  // Parts built once and updated in place.
  private main!: HTMLElement;
  private switchEl!: HTMLButtonElement;
  private summary!: HTMLElement;
  private notices!: HTMLElement;
  private liveEl!: HTMLElement;
  private announcer!: HTMLElement;
  private deviceBody!: HTMLTableSectionElement;
  private deviceEmpty!: HTMLElement;
  private deviceCount!: HTMLElement;
  private auditBody!: HTMLTableSectionElement;
  private auditEmpty!: HTMLElement;
  private tabs!: Record<'devices' | 'audit', { tab: HTMLButtonElement; panel: HTMLElement }>;

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
    this.build();
    void this.load();
    this.ticker = window.setInterval(() => this.tick(), 1000);
  }

  disconnectedCallback(): void {
    clearInterval(this.ticker);
    this.stream?.abort();
    this.stream = null;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Loading and live updates

  private async load(): Promise<void> {
    try {
      this.session = await this.api.session();
      [this.status, this.devices, this.audit] = await Promise.all([this.api.status(), this.api.devices(), this.api.audit()]);
      this.loadError = null;
    } catch (e) {
      this.loadError = e instanceof ApiFailure ? e : new ApiFailure(0, 'internal', String(e));
    }
    this.render();
    if (!this.loadError && !this.stream) void this.listen();
  }

  private async listen(): Promise<void> {
    let delay = 1000;
    const ctl = new AbortController();
    this.stream = ctl;
    while (!ctl.signal.aborted) {
      try {
        await this.api.events(() => {
          if (this.live === 'reconnecting') this.scheduleRefresh(true);
          this.setLive('live');
          delay = 1000;
        }, (name, data) => this.onEvent(name, data), ctl.signal);
      } catch (e) {
        if (ctl.signal.aborted) return;
        if (e instanceof ApiFailure && (e.status === 401 || e.status === 403)) {
          this.loadError = e;
          this.setLive('off');
          this.render();
          return;
        }
      }
      if (ctl.signal.aborted) return;
      this.setLive('reconnecting');
      await new Promise(r => setTimeout(r, delay));
      delay = Math.min(delay * 2, 15_000);
    }
  }

  private onEvent<K extends keyof EngineEvents>(name: K, data: EngineEvents[K]): void {
    if (name === 'registered' || name === 'revoked' || name === 'expired') {
      const d = (data as EngineEvents['registered']).device;
      const i = this.devices.findIndex(x => x.id === d.id);
      if (i >= 0) this.devices[i] = d;
      else this.devices.push(d);
      if (name === 'expired') this.say(`Access for ${describe(d)} has expired.`);
      if (name === 'revoked') this.say(`Access for ${describe(d)} was revoked.`);
      if (name === 'registered') this.say(`${describe(d)} was registered.`);
      this.renderDevices();
    }
    if (name === 'repaired') this.say(`The firewall was repaired: ${(data as EngineEvents['repaired']).what}.`);
    if (name === 'batch') {
      const b = data as EngineEvents['batch'];
      this.say(b.registered ? `${b.registered} devices were registered.` : `${b.revoked} devices were revoked.`);
    }
    this.scheduleRefresh(name === 'batch' || (name === 'registered' && !this.session?.remoteRegistered));
  }

  /** Status counts and the audit log follow events; fetched once for a burst. */
  private scheduleRefresh(withLists = false): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(async () => {
      try {
        const [status, audit] = await Promise.all([this.api.status(), this.api.audit()]);
        this.status = status;
        this.audit = audit;
        if (withLists) {
          this.devices = await this.api.devices();
          this.session = await this.api.session();
        }
        this.renderStatus();
        this.renderDevices();
        this.renderAudit();
      } catch { /* the next event or a retry will bring it */ }
    }, 250);
  }

  private setLive(state: SipaPanel['live']): void {
    this.live = state;
    this.liveEl.textContent = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', off: 'Offline' }[state];
    this.liveEl.className = `live live-${state}`;
  }

  private say(text: string): void {
    // Clearing first makes a repeated sentence be read again.
    this.announcer.textContent = '';
    window.setTimeout(() => { this.announcer.textContent = text; }, 50);
  }

  /** Once a second: countdowns in place, and one announcement per device near its end. */
  private tick(): void {
    const now = Date.now();
    for (const cell of this.root.querySelectorAll<HTMLElement>('[data-expires]')) {
      const left = Number(cell.dataset.expires) - now;
      const text = left > 0 ? clock(left) : 'ending…';
      if (cell.textContent !== text) cell.textContent = text;
      cell.setAttribute('aria-label', left > 0 ? `${spoken(left)} left` : 'ending now');
      cell.closest('tr')?.classList.toggle('soon', left > 0 && left <= SOON_MS);
    }
    for (const d of this.devices) {
      if (d.state !== 'active') continue;
      const left = d.expiresAt - now;
      if (left > 0 && left <= SOON_MS && !this.announced.has(d.id)) {
        this.announced.set(d.id, 'soon');
        this.say(`Access for ${describe(d)} ends in ${spoken(left)}.`);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Structure (built once)

  private build(): void {
    const id = this.pid;
    this.switchEl = h('button', { class: 'switch', role: 'switch', 'aria-checked': 'false', 'aria-labelledby': `${id}-title`, 'aria-describedby': `${id}-summary`, disabled: true, onclick: () => void this.toggle() },
      h('span', { class: 'knob', 'aria-hidden': 'true' }));
    this.summary = h('p', { id: `${id}-summary`, class: 'summary' });
    this.notices = h('div', { class: 'notices' });
    this.liveEl = h('span', { class: 'live live-connecting', text: 'Connecting…' });
    this.announcer = h('div', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true' });

    const header = h('section', { class: 'card head', 'aria-labelledby': `${id}-title` },
      h('div', { class: 'head-row' },
        h('div', { class: 'head-text' },
          h('h1', { id: `${id}-title`, text: 'Secure IP Access' }),
          h('p', { class: 'lede', text: 'When enabled, the NAS accepts internet connections only from registered addresses. Devices on the LAN are never blocked.' })),
        this.switchEl),
      this.summary,
      this.notices);

    // Trusted list
    const search = h('input', { type: 'search', id: `${id}-q`, placeholder: 'Address, label or QNAP ID', autocomplete: 'off', oninput: (e: Event) => { this.query = (e.target as HTMLInputElement).value; this.renderDevices(); } });
    const stateSel = h('select', { id: `${id}-state`, onchange: (e: Event) => { this.stateFilter = (e.target as HTMLSelectElement).value as SipaPanel['stateFilter']; this.renderDevices(); } },
      h('option', { value: 'all', text: 'All' }), h('option', { value: 'active', text: 'Active' }), h('option', { value: 'ended', text: 'Revoked or expired' }));
    const sourceSel = h('select', { id: `${id}-source`, onchange: (e: Event) => { this.sourceFilter = (e.target as HTMLSelectElement).value as SipaPanel['sourceFilter']; this.renderDevices(); } },
      h('option', { value: 'all', text: 'All sources' }), h('option', { value: 'portal', text: 'myQNAPcloud' }), h('option', { value: 'local', text: 'Local' }));
    this.deviceCount = h('span', { class: 'count', 'aria-live': 'polite' });
    this.deviceBody = h('tbody');
    this.deviceEmpty = h('div', { class: 'empty', hidden: true });
    const devicesPanel = h('div', { class: 'tabpanel', role: 'tabpanel', id: `${id}-p-devices`, 'aria-labelledby': `${id}-t-devices` },
      h('div', { class: 'toolbar', role: 'search' },
        h('label', { for: `${id}-q`, class: 'sr-only', text: 'Search the trusted list' }), search,
        h('label', { for: `${id}-state`, text: 'Status' }), stateSel,
        h('label', { for: `${id}-source`, text: 'Source' }), sourceSel,
        h('span', { class: 'spacer' }), this.deviceCount,
        h('button', { class: 'btn', onclick: () => this.exportDevices('csv'), title: 'Download the rows shown as CSV', text: 'Export CSV' }),
        h('button', { class: 'btn', onclick: () => this.exportDevices('json'), title: 'Download the rows shown as JSON', text: 'Export JSON' })),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'grid', 'aria-label': 'Trusted list' },
          h('thead', {}, h('tr', {}, ...['Address', 'Label', 'QNAP ID', 'Source', 'Policy', 'Registered', 'Remaining', 'Status', 'Actions'].map(t => h('th', { scope: 'col', text: t })))),
          this.deviceBody),
        this.deviceEmpty));

    // Audit log
    const auditSearch = h('input', { type: 'search', id: `${id}-aq`, placeholder: 'Filter the log', autocomplete: 'off', oninput: (e: Event) => { this.auditQuery = (e.target as HTMLInputElement).value; this.renderAudit(); } });
    this.auditBody = h('tbody');
    this.auditEmpty = h('div', { class: 'empty', hidden: true });
    const auditPanel = h('div', { class: 'tabpanel', role: 'tabpanel', id: `${id}-p-audit`, 'aria-labelledby': `${id}-t-audit`, hidden: true },
      h('div', { class: 'toolbar', role: 'search' },
        h('label', { for: `${id}-aq`, class: 'sr-only', text: 'Filter the audit log' }), auditSearch,
        h('span', { class: 'spacer' }),
        h('button', { class: 'btn', onclick: () => this.exportAudit('csv'), title: 'Download the entries shown as CSV', text: 'Export CSV' }),
        h('button', { class: 'btn', onclick: () => this.exportAudit('json'), title: 'Download the entries shown as JSON', text: 'Export JSON' })),
      h('div', { class: 'table-wrap' },
        h('table', { class: 'grid', 'aria-label': 'Audit log' },
          h('thead', {}, h('tr', {}, ...['Time', 'Who', 'Action', 'Address', 'Detail'].map(t => h('th', { scope: 'col', text: t })))),
          this.auditBody),
        this.auditEmpty));

    const tab = (key: 'devices' | 'audit', label: string) => h('button', {
      role: 'tab', id: `${id}-t-${key}`, 'aria-controls': `${id}-p-${key}`, 'aria-selected': key === 'devices' ? 'true' : 'false',
      tabindex: key === 'devices' ? '0' : '-1', class: 'tab', text: label, onclick: () => this.selectTab(key), onkeydown: (e: Event) => this.tabKeys(e as KeyboardEvent),
    });
    this.tabs = { devices: { tab: tab('devices', 'Trusted list'), panel: devicesPanel }, audit: { tab: tab('audit', 'Audit log'), panel: auditPanel } };

    this.main = h('div', { class: 'body' },
      h('section', { class: 'card', 'aria-label': 'Devices and log' },
        h('div', { class: 'tabbar' },
          h('div', { role: 'tablist', 'aria-label': 'Secure IP Access views' }, this.tabs.devices.tab, this.tabs.audit.tab),
          this.liveEl),
        devicesPanel, auditPanel));

    this.root.replaceChildren(h('div', { class: 'panel' }, header, this.main, this.announcer));
  }

  private selectTab(key: 'devices' | 'audit', focus = false): void {
    this.tab = key;
    for (const [k, { tab, panel }] of Object.entries(this.tabs)) {
      const on = k === key;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      panel.hidden = !on;
    }
    if (focus) this.tabs[key].tab.focus();
  }

  private tabKeys(e: KeyboardEvent): void {
    const order: Array<'devices' | 'audit'> = ['devices', 'audit'];
    const i = order.indexOf(this.tab);
    const next = e.key === 'ArrowRight' ? order[(i + 1) % 2] : e.key === 'ArrowLeft' ? order[(i + 1) % 2]
      : e.key === 'Home' ? 'devices' : e.key === 'End' ? 'audit' : null;
    if (!next) return;
    e.preventDefault();
    this.selectTab(next, true);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Rendering

  private render(): void {
    this.renderStatus();
    if (this.loadError) {
      this.main.replaceChildren(this.errorState(this.loadError));
      return;
    }
    this.renderDevices();
    this.renderAudit();
  }

  private errorState(e: ApiFailure): HTMLElement {
    const auth = e.status === 401;
    const admin = e.status === 403 && e.code === 'not_admin';
    const title = auth ? 'Sign in to QTS as an administrator' : admin ? 'Administrators only' : 'Secure IP Access cannot be shown';
    const retry = h('button', { class: 'btn primary', text: auth ? 'Reload' : 'Retry', onclick: () => (auth ? location.reload() : this.retry()) });
    return h('section', { class: 'card state-card', role: 'alert' },
      h('h2', { text: title }),
      h('p', { text: sentence(e.message) }),
      admin ? null : retry);
  }

  private retry(): void {
    this.build();
    void this.load();
  }

  private renderStatus(): void {
    const s = this.status;
    const enabled = !!s?.enabled;
    this.switchEl.setAttribute('aria-checked', String(enabled));
    this.switchEl.disabled = !s || !!this.loadError || this.busy;
    this.switchEl.setAttribute('aria-busy', String(this.busy));
    if (!s) {
      this.summary.textContent = this.loadError ? 'Status unknown.' : 'Loading…';
      this.notices.replaceChildren();
      return;
    }
    const active = s.activeDevices;
    const parts = [
      enabled ? (s.enforcing ? 'On: enforcing' : 'On: not enforcing yet') : 'Off: every internet address can connect',
      `${active} active ${active === 1 ? 'device' : 'devices'}`,
      `LAN never blocked: ${s.lanNetworks.length ? s.lanNetworks.join(', ') : 'none detected'}`,
      `myQNAPcloud: ${!s.portal.configured ? 'not configured' : !s.portal.bound ? 'not linked to a QNAP ID' : s.portal.connected ? 'linked, connected' : 'linked, not connected'}`,
    ];
    this.summary.replaceChildren(...parts.map((p, i) => h('span', { class: i === 0 ? `pill ${enabled ? 'on' : 'off'}` : 'fact', text: p })));
    const notes: HTMLElement[] = [];
    if (enabled && !s.enforcing) notes.push(h('p', { class: 'notice warn', text: 'Secure IP Access is on but the firewall rules are not in place yet; the service is repairing them.' }));
    if (!s.clockTrusted) notes.push(h('p', { class: 'notice warn', text: 'The NAS clock is not trusted yet (no time sync). Expiry times shown may be off; access still ends on time.' }));
    if (s.storeRecovered) notes.push(h('p', { class: 'notice warn', role: 'alert', text: `The settings file was damaged and recovered: ${s.storeRecovered}` }));
    if (s.storageFull) notes.push(h('p', { class: 'notice warn', role: 'alert', text: `Storage full: ${s.storageFull}.` }));
    if (s.quarantinedRows) notes.push(h('p', { class: 'notice warn', text: `${s.quarantinedRows} unreadable device record(s) were set aside at start and are not trusted (sipa doctor lists them).` }));
    if (s.portal.configured && !s.portal.bound) notes.push(h('p', { class: 'notice', text: 'Link the NAS to a QNAP ID in myQNAPcloud so devices can register themselves.' }));
    this.notices.replaceChildren(...notes);
  }

  private visibleDevices(): Device[] {
    const q = this.query.trim().toLowerCase();
    return this.devices
      .filter(d => this.stateFilter === 'all' || (this.stateFilter === 'active' ? d.state === 'active' : d.state !== 'active'))
      .filter(d => this.sourceFilter === 'all' || d.source === this.sourceFilter)
      .filter(d => !q || [d.address, d.label, d.qnapId ?? ''].some(t => t.toLowerCase().includes(q)))
      .sort((a, b) => (a.state === 'active' ? 0 : 1) - (b.state === 'active' ? 0 : 1)
        || (a.state === 'active' ? a.expiresAt - b.expiresAt : (b.endedAt ?? 0) - (a.endedAt ?? 0)));
  }

  private renderDevices(): void {
    if (this.loadError) return;
    // Rows are rebuilt; keep the keyboard where it was.
    const focused = this.root.activeElement as HTMLElement | null;
    const focusKey = focused && this.deviceBody.contains(focused) ? focused.dataset.key : undefined;
    const rows = this.visibleDevices();
    const now = Date.now();
    this.deviceBody.replaceChildren(...rows.map(d => {
      const active = d.state === 'active';
      const left = d.expiresAt - now;
      const remaining = active
        ? h('td', { class: 'num' }, h('span', { role: 'timer', 'data-expires': String(d.expiresAt), 'aria-label': `${spoken(left)} left`, text: left > 0 ? clock(left) : 'ending…' }),
          d.policy === 'session' ? h('span', { class: 'sub', text: ' lease' }) : null)
        : h('td', { class: 'num muted', text: '—' });
      const state = h('span', { class: `badge ${d.state}`, text: d.state === 'active' ? 'Active' : d.state === 'revoked' ? 'Revoked' : 'Expired' });
      const ended = !active && d.endedAt ? h('div', { class: 'sub', title: d.endReason ?? '', text: `${shortTime(d.endedAt)}${d.endedBy ? ` by ${d.endedBy}` : ''}` }) : null;
      const action = active
        ? h('button', { class: 'btn danger small', 'data-key': `revoke-${d.id}`, 'aria-label': `Revoke Request for ${d.address}`, text: 'Revoke Request', onclick: (e: Event) => this.confirmRevoke(d, e.currentTarget as HTMLElement) })
        : null;
      const tr = h('tr', { class: active ? (left <= SOON_MS ? 'soon' : '') : 'ended', 'data-id': String(d.id) },
        h('th', { scope: 'row', class: 'mono', tabindex: '-1', 'data-key': `row-${d.id}`, text: d.address }),
        h('td', { class: 'wrap', text: d.label || '—' }),
        h('td', { text: d.qnapId ?? '—' }),
        h('td', { text: d.source === 'portal' ? 'myQNAPcloud' : 'Local' }),
        h('td', { text: d.policy === 'session' ? 'Session' : 'Fixed' }),
        h('td', { class: 'num', text: dateTime(d.registeredAt) }),
        remaining,
        h('td', {}, state, ended),
        h('td', {}, action));
      return tr;
    }));
    if (focusKey) {
      const again = this.deviceBody.querySelector<HTMLElement>(`[data-key="${focusKey}"]`);
      if (again) again.focus();
      else this.tabs.devices.tab.focus();
    }
    const activeCount = this.devices.filter(d => d.state === 'active').length;
    this.deviceCount.textContent = `${rows.length} shown · ${activeCount} active`;
    this.deviceEmpty.hidden = rows.length > 0;
    if (!rows.length) {
      this.deviceEmpty.replaceChildren(...(this.devices.length
        ? [h('strong', { text: 'No device matches.' }), h('span', { text: ' Clear the search or the filters to see the whole list.' })]
        : [h('strong', { text: 'No registered devices yet.' }), h('span', { text: ' A device appears here when its owner registers it on myQNAPcloud (Secure IP Access → Register), or when an administrator registers an address.' })]));
    }
  }

  private visibleAudit(): AuditEntry[] {
    const q = this.auditQuery.trim().toLowerCase();
    return this.audit.filter(a => !q || [a.actor, a.action, a.address ?? '', a.detail, a.surface].some(t => t.toLowerCase().includes(q)));
  }

  private renderAudit(): void {
    if (this.loadError) return;
    const rows = this.visibleAudit();
    this.auditBody.replaceChildren(...rows.map(a => h('tr', {},
      h('td', { class: 'num', text: dateTime(a.at) }),
      h('td', { text: `${a.actor} (${a.surface})` }),
      h('td', { text: a.action }),
      h('td', { class: 'mono', text: a.address ?? '—' }),
      h('td', { text: a.detail || '—' }))));
    this.auditEmpty.hidden = rows.length > 0;
    this.auditEmpty.textContent = this.audit.length ? 'No entry matches the filter.' : 'The audit log is empty.';
  }

  // ---------------------------------------------------------------------------------------------------------
  // Actions

  private async toggle(): Promise<void> {
    if (!this.status || this.busy) return;
    if (this.status.enabled) {
      const ok = await this.dialog({
        role: 'alertdialog', title: 'Disable Secure IP Access?',
        body: [h('p', { text: 'Any internet address will be able to reach NAS services again, subject to your other QuFirewall rules. Registered devices stay in the list.' })],
        actions: [{ label: 'Cancel', value: '' }, { label: 'Disable', value: 'disable', kind: 'danger' }], initial: 0,
      });
      if (ok === 'disable') await this.act(() => this.api.disable().then(s => { this.status = s; }));
      return;
    }
    let session: Session;
    try {
      session = await this.api.session();
      this.session = session;
    } catch (e) {
      this.showError(e);
      return;
    }
    if (this.status.portal.configured && !this.status.portal.bound) {
      const go = await this.dialog({
        role: 'alertdialog', title: 'Link the NAS to a QNAP ID first',
        body: [
          h('p', { text: 'Devices register for Secure IP Access through myQNAPcloud, and this NAS is not linked to a QNAP ID yet, so no device can register itself.' }),
          h('p', { text: 'Open myQNAPcloud on the NAS, sign in with your QNAP ID and complete the binding (or run "sipa bind" on the NAS). Then enable Secure IP Access here.' }),
        ],
        actions: [{ label: 'Cancel', value: '' }, { label: 'Enable without a QNAP ID', value: 'go' }], initial: 0,
      });
      if (go !== 'go') return;
    }
    const exposed = !!session.remoteAddress && !session.remoteLan && !session.remoteRegistered;
    const periodSel = h('select', { id: `${this.pid}-period` }, ...PERIODS.map(([label, s]) => h('option', { value: String(s), text: label, selected: s === 3600 })));
    const body: HTMLElement[] = [
      h('p', { text: 'The NAS will accept connections from the internet only from registered addresses. Open connections from other addresses are cut.' }),
      h('p', { text: `Devices on the LAN are never blocked${this.status.lanNetworks.length ? ` (${this.status.lanNetworks.join(', ')})` : ''}.` }),
    ];
    if (exposed) {
      body.push(h('div', { class: 'notice warn', role: 'alert' },
        h('strong', { text: `You are connected from ${session.remoteAddress}, which is not registered.` }),
        h('span', { text: ' Enabling now would cut this session and lock you out. Register this address first:' })),
      h('p', { class: 'field' }, h('label', { for: `${this.pid}-period`, text: `Keep ${session.remoteAddress} registered for ` }), periodSel));
    }
    const choice = await this.dialog({
      role: exposed ? 'alertdialog' : 'dialog', title: 'Enable Secure IP Access', body,
      actions: exposed
        ? [{ label: 'Cancel', value: '' }, { label: 'Enable anyway', value: 'enable', kind: 'danger' }, { label: 'Register and enable', value: 'register', kind: 'primary' }]
        : [{ label: 'Cancel', value: '' }, { label: 'Enable Secure IP Access', value: 'enable', kind: 'primary' }],
      initial: exposed ? 2 : 1,
    });
    if (choice === 'register') {
      const seconds = Number(periodSel.value);
      await this.act(async () => {
        await this.api.register(session.remoteAddress as string, `Admin session (${session.user})`, seconds);
        this.status = await this.api.enable();
        this.session = await this.api.session();
      });
    } else if (choice === 'enable') {
      await this.act(() => this.api.enable().then(s => { this.status = s; }));
    }
  }

  private async confirmRevoke(d: Device, opener: HTMLElement): Promise<void> {
    const reason = h('input', { id: `${this.pid}-reason`, type: 'text', maxlength: '200', placeholder: 'optional', autocomplete: 'off' });
    const choice = await this.dialog({
      role: 'alertdialog', title: 'Revoke Request',
      body: [
        h('p', {}, 'Revoke internet access for ', h('strong', { class: 'mono', text: d.address }), d.label ? ` (${d.label})` : '', '?'),
        h('p', { text: 'The device loses access at once and its open connections are cut. It cannot connect again until it is registered once more.' }),
        h('p', { class: 'field' }, h('label', { for: `${this.pid}-reason`, text: 'Reason ' }), reason),
      ],
      actions: [{ label: 'Cancel', value: '' }, { label: 'Revoke Request', value: 'revoke', kind: 'danger' }],
      initial: 0,
      opener,
    });
    if (choice !== 'revoke') return;
    await this.act(async () => {
      const after = await this.api.revoke(d.id, reason.value.trim() || 'revoked in QuFirewall');
      const i = this.devices.findIndex(x => x.id === after.id);
      if (i >= 0) this.devices[i] = after;
    });
    // The Revoke button is gone with the access; the keyboard stays on the row.
    this.deviceBody.querySelector<HTMLElement>(`[data-key="row-${d.id}"]`)?.focus();
  }

  private async act(work: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.renderStatus();
    try {
      await work();
      this.clearError();
    } catch (e) {
      this.showError(e);
    } finally {
      this.busy = false;
      this.renderStatus();
      this.renderDevices();
      this.scheduleRefresh();
    }
  }

  private showError(e: unknown): void {
    const msg = sentence(e instanceof ApiFailure ? e.message : String(e));
    this.clearError();
    const close = h('button', { class: 'btn small', text: 'Dismiss', onclick: () => this.clearError() });
    this.notices.append(h('div', { class: 'notice error', role: 'alert', 'data-error': '1' }, h('span', { text: msg }), close));
  }

  private clearError(): void {
    this.notices.querySelectorAll('[data-error]').forEach(n => n.remove());
  }

  /** A modal dialog; resolves with the chosen action's value ('' for Cancel or Escape). */
  private dialog(o: { role: 'dialog' | 'alertdialog'; title: string; body: HTMLElement[]; actions: Array<{ label: string; value: string; kind?: 'primary' | 'danger' }>; initial: number; opener?: HTMLElement }): Promise<string> {
    const opener = o.opener ?? (this.root.activeElement as HTMLElement | null) ?? this.switchEl;
    const n = ++uid;
    const dlg = h('dialog', { role: o.role, 'aria-modal': 'true', 'aria-labelledby': `dlg${n}-t`, 'aria-describedby': `dlg${n}-b`, class: 'dialog' });
    const buttons = o.actions.map(a => h('button', { class: `btn ${a.kind ?? ''}`, value: a.value, text: a.label, onclick: () => finish(a.value) }));
    dlg.append(
      h('h2', { id: `dlg${n}-t`, text: o.title }),
      h('div', { id: `dlg${n}-b`, class: 'dialog-body' }, ...o.body),
      h('div', { class: 'dialog-actions' }, ...buttons));
    let resolve!: (v: string) => void;
    const done = new Promise<string>(r => { resolve = r; });
    const finish = (v: string) => {
      if (!dlg.open) return;
      dlg.close();
      dlg.remove();
      resolve(v);
      const key = opener.dataset.key;
      const target = opener.isConnected ? opener : key ? this.root.querySelector<HTMLElement>(`[data-key="${key}"]`) : null;
      (target ?? this.switchEl).focus();
    };
    dlg.addEventListener('cancel', e => { e.preventDefault(); finish(''); });
    dlg.addEventListener('keydown', e => { if (e.key === 'Escape') { e.preventDefault(); finish(''); } });
    this.root.querySelector('.panel')!.append(dlg);
    dlg.showModal();
    buttons[o.initial].focus();
    return done;
  }

  private exportDevices(kind: 'csv' | 'json'): void {
    const rows = this.visibleDevices();
    const name = `secure-ip-access-devices-${stamp()}.${kind}`;
    if (kind === 'json') {
      download(name, 'application/json', JSON.stringify({ exportedAt: new Date().toISOString(), devices: rows }, null, 2));
      return;
    }
    download(name, 'text/csv', toCsv(
      ['id', 'address', 'label', 'qnapId', 'source', 'policy', 'registeredAt', 'expiresAt', 'state', 'endedAt', 'endedBy', 'endReason'],
      rows.map(d => [d.id, d.address, d.label, d.qnapId, d.source, d.policy, iso(d.registeredAt), iso(d.expiresAt), d.state, d.endedAt ? iso(d.endedAt) : null, d.endedBy, d.endReason])));
  }

  private exportAudit(kind: 'csv' | 'json'): void {
    const rows = this.visibleAudit();
    const name = `secure-ip-access-audit-${stamp()}.${kind}`;
    if (kind === 'json') {
      download(name, 'application/json', JSON.stringify({ exportedAt: new Date().toISOString(), entries: rows }, null, 2));
      return;
    }
    download(name, 'text/csv', toCsv(['id', 'at', 'surface', 'actor', 'action', 'deviceId', 'address', 'detail'],
      rows.map(a => [a.id, iso(a.at), a.surface, a.actor, a.action, a.deviceId, a.address, a.detail])));
  }
}

/** Service messages are lower-case clauses ("revoke: no device 42"); shown alone they read as sentences. */
function sentence(text: string): string {
  const t = text.trim();
  return t ? t[0].toUpperCase() + t.slice(1) + (/[.!?)]$/.test(t) ? '' : '.') : t;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
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
