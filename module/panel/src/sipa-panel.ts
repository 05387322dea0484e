// <sipa-panel>: the Secure IP Access page of QuFirewall. Plain DOM in a shadow root; all text is set with
// textContent (no markup from data). Attributes: api-base (default "api/v1/", relative to the page) and
// login-url (where a signed-out admin signs in to QTS again; default "/").
import { ApiClient, ApiFailure, asFailure, Device, Session, Status, StreamEvents } from './api';
import { Announcer } from './announcer';
import { AuditLog } from './audit-log';
import { DeviceBook, Entry } from './book';
import { Connection } from './connection';
import { DeviceDialogs } from './device-dialogs';
import { DeviceList, ListSituation, PAGE_SIZE } from './device-list';
import { dialogsIn } from './dialog';
import { h } from './dom';
import { ErrorNotes } from './error-notes';
import { describe, signedOut } from './format';
import { oneAtATime } from './one-at-a-time';
import { OwnAccess, OwnNotice } from './own-access';
import { ServiceDialogs } from './service-dialogs';
import { ConnectionNotice, stateCard, StatusView } from './status-view';
import { Tabs } from './tabs';
import css from './styles.css';

const NARROW_PX = 700;
const MEDIUM_PX = 1000;

type Layout = 'wide' | 'medium' | 'narrow';

let uid = 0;

export class SipaPanel extends HTMLElement {
  private readonly root: ShadowRoot;
  private api!: ApiClient;
  private session: Session | null = null;
  private status: Status | null = null;
  private readonly book = new DeviceBook();
  /** While the book holds only the list's first page (the whole list follows): how many devices are active. */
  private partial: { total: number } | null = null;
  private restLoading: Promise<boolean> | null = null;
  private busy = false;
  private layout: Layout = 'wide';
  private readonly pid = `sipa${++uid}`;
  private renderQueued = 0;
  private ticker = 0;
  private resizer: ResizeObserver | null = null;
  private readonly connection = new Connection({
    events: (onOpen, onEvent, signal) => this.api.events(onOpen, onEvent, signal),
    onEvent: (name, data) => this.onEvent(name, data),
    reload: () => this.loadAll(),
    refreshStatus: () => void this.refreshStatus(),
    redraw: () => this.renderAll(),
    redrawConnection: () => this.renderConn(),
  });

  // Parts built each time the element is put on a page.
  private panelEl!: HTMLElement;
  private main!: HTMLElement;
  private content!: HTMLElement;
  private announcer!: Announcer;
  private errors!: ErrorNotes;
  private statusView!: StatusView;
  private connNotice!: ConnectionNotice;
  private ownNotice!: OwnNotice;
  private list!: DeviceList;
  private audit!: AuditLog;
  private tabs!: Tabs;
  private deviceDialogs!: DeviceDialogs;
  private serviceDialogs!: ServiceDialogs;

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
    this.connection.close();
    this.resizer?.disconnect();
  }

  // ---------------------------------------------------------------------------------------------------------
  // Loading, and what the events change

  /**
   * The first page first: 50 rows the daemon serves from memory are on screen at once (10,000 devices are 3 MB of
   * JSON, most of a second to fetch and read); the whole list, with history, search and every page, follows.
   */
  private async start(first: Promise<boolean> = this.loadFirst()): Promise<void> {
    this.connection.begin();
    this.renderAll();
    if (!(await first)) return;
    this.connection.confirm();
    this.renderAll();
    performance.mark('sipa-first-rows');
    this.restLoading = this.loadRest();
    const complete = await this.restLoading;
    this.restLoading = null;
    if (!complete) return;
    this.renderAll();
    performance.mark('sipa-list-complete');
    void this.connection.listen();
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
    await this.audit.reread();
  }

  /** Runs a load; a failure is shown as what it means for the page, and answers false. */
  private async loading(load: () => Promise<void>): Promise<boolean> {
    try {
      await load();
      return true;
    } catch (e) {
      this.connection.failed(asFailure(e), true);
      return false;
    }
  }

  private onEvent<K extends keyof StreamEvents>(name: K, data: StreamEvents[K]): void {
    if (name === 'registered' || name === 'revoked' || name === 'expired') {
      const d = (data as StreamEvents['registered']).device;
      const own = this.own().isOwn(d);
      this.book.put(d);
      if (name === 'expired') this.announcer.queue(own ? `Your own access from ${d.address} has expired.` : `Access for ${describe(d)} has expired.`);
      else if (name === 'revoked') this.announcer.queue(own ? `Your own access from ${d.address} was revoked.` : signedOut(d) ? `${describe(d)} signed out; its access ended.` : `Access for ${describe(d)} was revoked.`);
      else this.announcer.queue(`${describe(d)} was registered.`);
      this.queueRender();
      this.audit.changed();
    } else if (name === 'batch') {
      const b = data as StreamEvents['batch'];
      this.announcer.queue(b.registered ? `${b.registered} devices were registered.` : `${b.revoked} devices were revoked.`);
      void this.reloadList();
      void this.refreshStatus();
      this.audit.changed();
    } else if (name === 'portal') {
      if (this.status) this.status = { ...this.status, portal: data as StreamEvents['portal'] };
      if (this.session) this.session = { ...this.session, bound: (data as StreamEvents['portal']).bound };
      this.announcer.queue((data as StreamEvents['portal']).bound ? 'The NAS is now linked to a QNAP ID.' : 'The NAS is no longer linked to a QNAP ID.');
      this.renderStatus();
      this.audit.changed();
    } else {
      if (name === 'repaired') this.announcer.queue(`The firewall was repaired: ${(data as StreamEvents['repaired']).what}.`);
      if ((name === 'enabled' || name === 'disabled') && this.status) this.status = { ...this.status, enabled: name === 'enabled' };
      this.renderStatus();
      void this.refreshStatus();
      this.audit.changed();
    }
  }

  /** Status follows events. */
  private readonly refreshStatus = oneAtATime(async () => {
    try {
      this.status = await this.api.status();
      this.connection.confirm();
    } catch (e) {
      this.connection.failed(asFailure(e));
      return false;
    }
    this.renderStatus();
    return true;
  });

  private readonly reloadList = oneAtATime(async () => {
    try {
      this.book.load(await this.api.devices());
    } catch (e) {
      this.connection.failed(asFailure(e));
      return false;
    }
    this.queueRender();
    return true;
  });

  /** Once a second: countdowns on the page shown, the admin's own access, and the retry countdown. */
  private tick(): void {
    this.list.tick();
    this.renderOwn();
    const conn = this.connection.state;
    if (conn === 'unreachable' || conn === 'reconnecting') this.renderConn();
  }

  private own(): OwnAccess {
    return new OwnAccess(this.book, this.session, this.status);
  }

  // ---------------------------------------------------------------------------------------------------------
  // The page: built once per visit, drawn from the state above

  private build(): void {
    const id = this.pid;
    this.announcer = new Announcer();
    this.statusView = new StatusView(id, this.root, () => void this.toggle(), opener => void this.link(opener));
    const switchEl = this.statusView.switchEl;
    this.errors = new ErrorNotes(() => switchEl.focus());
    this.connNotice = new ConnectionNotice(() => this.retryNow());
    this.ownNotice = new OwnNotice(this.root, {
      register: (opener, address) => void this.register(opener, address),
      extend: (d, opener) => void this.extend(d, opener),
      refocus: keys => (this.list.find(keys) ?? switchEl).focus(),
    });
    this.list = new DeviceList(this.root, id, this.book, {
      situation: () => this.listSituation(),
      register: opener => void this.register(opener),
      extend: (d, opener) => void this.extend(d, opener),
      revoke: (e, opener) => void this.confirmRevoke(e, opener),
      wholeList: () => this.restLoading,
      say: text => this.announcer.say(text),
    });
    this.audit = new AuditLog(id, this.api, this.errors, {
      halted: () => this.connection.halted,
      shown: () => this.tabs.shown === 'audit',
      failed: f => this.connection.failed(f),
    });
    this.tabs = new Tabs(id, { devices: this.list.el, audit: this.audit.el }, key => {
      if (key === 'audit') this.audit.chosen(this.connection.state === 'live');
    });

    const header = h('section', { class: 'card head', 'aria-labelledby': `${id}-title` },
      h('div', { class: 'head-row' },
        h('div', { class: 'head-text' },
          h('h1', { id: `${id}-title`, text: 'Secure IP Access' }),
          h('p', { class: 'lede', text: 'When enabled, the NAS accepts internet connections only from registered addresses. Devices on the LAN are never blocked.' })),
        switchEl),
      this.statusView.summary,
      this.connNotice.el, this.errors.el, this.ownNotice.el, this.statusView.notes);
    this.content = h('section', { class: 'card', 'aria-label': 'Devices and log' },
      h('div', { class: 'tabbar' }, this.tabs.el, this.connNotice.label),
      this.list.el, this.audit.el);
    this.main = h('div', { class: 'body' }, this.content);
    this.panelEl = h('div', { class: 'panel' }, header, this.main, this.announcer.el);
    this.root.replaceChildren(this.panelEl);

    const open = dialogsIn(this.root, this.panelEl, switchEl);
    this.deviceDialogs = new DeviceDialogs(open, this.api, {
      saved: (d, key, said) => {
        this.book.put(d);
        this.errors.clear(key);
        this.queueRender();
        this.announcer.say(said);
      },
      failed: (key, what, f) => this.actionFailed(key, what, f),
    });
    this.serviceDialogs = new ServiceDialogs(id, open, this.api, {
      linked: () => {
        this.errors.clear('bind');
        void this.refreshStatus();
      },
      failed: (key, what, f) => this.actionFailed(key, what, f),
    });
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
    if (changed) this.list.render();
  }

  private renderAll(): void {
    this.renderStatus();
    this.renderConn();
    const c = this.connection;
    if (c.halted) {
      this.main.replaceChildren(stateCard({ signedOut: c.state === 'signed-out', failure: c.failure, wasLive: c.everLive, loginUrl: this.getAttribute('login-url') ?? '/', retry: () => void this.start() }));
      return;
    }
    if (!this.main.contains(this.content)) this.main.replaceChildren(this.content);
    this.main.classList.toggle('stale', c.state === 'unreachable');
    this.content.setAttribute('aria-busy', String(c.state === 'loading'));
    this.list.render();
    this.audit.render();
  }

  private renderConn(): void {
    this.connNotice.render(this.connection.state, this.connection.retryAt, this.connection.confirmedAt);
  }

  private renderStatus(): void {
    this.statusView.render(this.status, this.connection.state, this.busy, this.partial?.total ?? this.book.activeCount);
    this.list.markActionable(this.canAct());
    this.renderOwn();
    if (this.status) this.connection.watchPortal(this.status.portal);
  }

  private renderOwn(): void {
    const own = this.own();
    const conn = this.connection.state;
    if (!own.remote || !this.status || conn === 'signed-out' || conn === 'refused') return this.ownNotice.clear();
    // Only the first page is here: whether the admin's own address is registered is not known yet.
    if (this.partial) return;
    this.ownNotice.show(own, this.status.enabled);
  }

  private listSituation(): ListSituation {
    return {
      halted: this.connection.halted,
      loading: this.connection.state === 'loading',
      stale: !this.canAct(),
      partial: this.partial,
      narrow: this.layout === 'narrow',
      own: this.own().keys(),
      ipv6Scope: this.status?.ipv6Scope,
    };
  }

  /** Live events change the book; the page is drawn once per frame however many arrive. */
  private queueRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = requestAnimationFrame(() => {
      this.renderQueued = 0;
      this.list.render();
      this.renderStatus();
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Actions

  private canAct(): boolean {
    return this.connection.state === 'live' && !this.busy;
  }

  private notNow(): boolean {
    if (this.canAct()) return false;
    if (!this.busy) this.announcer.say(this.connection.state === 'unreachable' ? 'Nothing can be changed while the service is not answering.' : 'Please wait.');
    return true;
  }

  /** Try again now (the admin asked, or an action found the service gone). */
  private retryNow(): void {
    this.connection.retryNow(() => void (this.status ? this.connection.listen() : this.start()));
  }

  /** Runs an action; a failure stays on screen (what failed, why, what to do) until dismissed or retried. */
  private async act(key: string, what: string, work: () => Promise<void>): Promise<boolean> {
    this.busy = true;
    this.renderStatus();
    try {
      await work();
      this.errors.clear(key);
      return true;
    } catch (e) {
      const f = asFailure(e);
      this.actionFailed(key, what, f);
      if (f.unreachable) this.retryNow();
      return false;
    } finally {
      this.busy = false;
      this.renderStatus();
      this.queueRender();
      if (this.connection.state === 'live') void this.refreshStatus();
    }
  }

  /** What failed, why and what to do, on screen; and what it means for the whole page. */
  private actionFailed(key: string, what: string, f: ApiFailure): void {
    this.errors.show(key, what, f);
    this.connection.failed(f);
  }

  private async toggle(): Promise<void> {
    if (!this.status || this.notNow()) return;
    const opener = this.statusView.switchEl;
    if (this.status.enabled) {
      if (await this.serviceDialogs.disable(opener)) await this.act('switch', 'Disable Secure IP Access', () => this.api.disable().then(s => { this.status = s; }));
      return;
    }
    let session: Session;
    try {
      session = await this.api.session();
      this.session = session;
    } catch (e) {
      this.actionFailed('switch', 'Enable Secure IP Access', asFailure(e));
      return;
    }
    if (this.status.portal.configured && !this.status.portal.bound) {
      const go = await this.serviceDialogs.linkFirst(opener);
      if (go === 'link') {
        await this.link(opener);
        return;
      }
      if (go !== 'go') return;
    }
    const { choice, period } = await this.serviceDialogs.enable(opener, this.status, session);
    if (choice === 'register') {
      await this.act('switch', 'Register your address and enable', async () => {
        const d = await this.api.register({ address: session.remoteAddress as string, label: `Admin session (${session.user})`, period });
        this.book.put(d);
        this.status = await this.api.enable();
        this.session = await this.api.session();
      });
    } else if (choice === 'enable') {
      await this.act('switch', 'Enable Secure IP Access', () => this.api.enable().then(s => { this.status = s; }));
    }
  }

  private async link(opener: HTMLElement): Promise<void> {
    if (this.notNow()) return;
    await this.serviceDialogs.link(opener);
  }

  private async register(opener: HTMLElement, address = ''): Promise<void> {
    if (this.notNow()) return;
    await this.deviceDialogs.register(opener, address, this.status?.allowUntilRevoked === true);
  }

  private async extend(d: Device, opener: HTMLElement): Promise<void> {
    if (this.notNow()) return;
    await this.deviceDialogs.extend(d, opener, this.status?.allowUntilRevoked === true);
  }

  private async confirmRevoke(e: Entry, opener: HTMLElement): Promise<void> {
    if (this.notNow()) return;
    const d = e.current;
    const index = this.list.revokeIndex(opener);
    const revoked = await this.deviceDialogs.revoke(d, this.own().isOwn(d), opener, reason => this.act(`revoke-${e.key}`, `Revoke Request for ${d.address}`, async () => {
      this.book.put(await this.api.revoke(d.id, reason));
    }));
    if (revoked) {
      // The row leaves the active list: the keyboard goes to the row that took its place.
      this.list.revoked(e.key, index);
      return;
    }
    // Failed: the error is on screen; the keyboard goes back to the button (or its row, drawn again).
    this.list.render();
    (this.list.find([`revoke-${e.key}`]) ?? this.errors.firstButton() ?? this.statusView.switchEl).focus();
  }
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
