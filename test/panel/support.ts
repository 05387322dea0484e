// What the browser tests run against. `startPanelServer` is the one place that decides what "the server under
// test" is: today the real API (startApi) over the real engine on a stub kernel (testEngine); `startRealPanel`
// is the real daemon in a network namespace. Both serve the built panel at `url` and honour the same
// authLogin.cgi URL, the allowlist (127.0.0.1) and X-Forwarded-For from loopback.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { chromium, Browser, BrowserContext, Page } from 'playwright-core';
import { startApi } from '../../module/api';
import type { Engine, Status } from '../../module/engine';
import { addNamespace, removeNamespace } from '../../scripts/lib/netns';
import { makeDaemon, TestDaemon } from '../../scripts/lib/daemon';
import { call } from '../api/helpers';
import { startFakeQts, FakeQts, FakeQtsUser } from '../api/fake-qts';
import { testEngine } from '../support/test-engine';

const REPO = path.resolve(__dirname, '..', '..', '..');
/**
 * The built panel the servers under test serve. SIPA_TEST_PANEL_DIR points the same tests at another build
 * (e.g. the panel of an older commit, built with `node scripts/build-panel.mjs DIR`), to show what they catch.
 */
// Set but empty is unset: an empty folder name would resolve to the working directory.
export const PANEL_DIR = process.env.SIPA_TEST_PANEL_DIR || path.join(REPO, 'dist', 'panel');
export const SHOTS = path.join(REPO, 'test-results', 'panel');
export const AXE = path.join(REPO, 'node_modules', 'axe-core', 'axe.min.js');

export interface PanelServerOptions {
  /** The fake authLogin.cgi to ask about NAS_SID. */
  qtsAuthUrl: string;
  portal?: Status['portal'];
}

export interface PanelServer {
  /** Base URL of the page, ending in "/". */
  url: string;
  /** The engine behind the API, for a test to change or read what the panel shows. */
  engine: Engine;
  stop(): Promise<void>;
}

let built = false;

/** Builds the panel once per run (esbuild, well under a second). */
export function buildPanel(): void {
  if (built || process.env.SIPA_TEST_PANEL_DIR) return;
  execFileSync(process.execPath, [path.join(REPO, 'scripts', 'build-panel.mjs'), PANEL_DIR], { stdio: 'ignore' });
  built = true;
}

export async function startPanelServer(opts: PanelServerOptions): Promise<PanelServer> {
  buildPanel();
  const portal = opts.portal ?? { configured: true, bound: true, connected: true };
  // Periods as short as 1 s, so that a test sees one end.
  const h = await testEngine({ portalStatus: () => portal, config: { firewall: { extraLan: ['192.168.1.0/24', 'fd00:1::/64'] }, policy: { minSeconds: 1 } } });
  try {
    const api = await startApi({
      engine: h.engine,
      runDir: path.join(h.dir, 'run'),
      config: { http: { enabled: true, host: '127.0.0.1', port: 0 }, token: null, qtsAuthUrl: opts.qtsAuthUrl, allowedHosts: ['127.0.0.1', 'localhost'], panelDir: PANEL_DIR },
    });
    return {
      url: `${api.httpUrl}/`,
      engine: h.engine,
      async stop() {
        await api.stop();
        await h.dispose();
      },
    };
  } catch (err) {
    await h.dispose();
    throw err;
  }
}

/** Registers an address through the HTTP API as the given QTS session, as any client would. */
export async function registerThroughApi(url: string, sid: string, address: string, seconds: number, label = ''): Promise<void> {
  const base = url.replace(/\/$/, '');
  const cookie = `NAS_SID=${sid}`;
  const s = await call({ base, path: '/api/v1/session', headers: { Cookie: cookie } });
  if (s.status !== 200) throw new Error(`session: ${s.text}`);
  const r = await call({ base, path: '/api/v1/devices', body: { address, label, expiry: { policy: 'fixed', seconds } }, headers: { Cookie: cookie, 'X-CSRF-Token': s.json.csrfToken } });
  if (r.status !== 201) throw new Error(`register: ${r.status} ${r.text}`);
}

export const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Debian's Chromium, never a downloaded one. Playwright gives every launch a fresh, temporary --user-data-dir. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
}

export interface ContextExtra {
  headers?: Record<string, string>;
  bypassCSP?: boolean;
  viewport?: { width: number; height: number };
  timezoneId?: string;
}

/** A fresh browser context, signed in to "QTS" with the given sid (none = no cookie). */
export async function contextFor(browser: Browser, url: string, sid: string | null, user?: string, extra: ContextExtra = {}): Promise<BrowserContext> {
  const ctx = await browser.newContext({ acceptDownloads: true, viewport: extra.viewport ?? { width: 1360, height: 820 }, extraHTTPHeaders: extra.headers, bypassCSP: extra.bypassCSP, reducedMotion: 'reduce', timezoneId: extra.timezoneId });
  const u = new URL(url);
  const cookies = [];
  if (sid) cookies.push({ name: 'NAS_SID', value: sid, domain: u.hostname, path: '/' });
  if (sid && user) cookies.push({ name: 'NAS_USER', value: user, domain: u.hostname, path: '/' });
  if (cookies.length) await ctx.addCookies(cookies);
  return ctx;
}

export function shotPath(name: string): string {
  fs.mkdirSync(SHOTS, { recursive: true });
  return path.join(SHOTS, `${name}.png`);
}

/** A loopback port that was free a moment ago (the daemon keeps it across restarts, as on a NAS). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export const ADMIN_SID = 'qts-admin-sid';

/** The real daemon enforcing in a namespace of its own, its API on a fixed loopback port, behind a fake QTS. */
export interface RealPanel {
  url: string;
  daemon: TestDaemon;
  qts: FakeQts;
  ns: string;
  stop(): Promise<void>;
}

export async function startRealPanel(tag: string, opts: { config?: Record<string, unknown>; users?: Record<string, FakeQtsUser> } = {}): Promise<RealPanel> {
  buildPanel();
  const ns = addNamespace(`sipa-${tag}-${process.pid}`);
  const qts = await startFakeQts(opts.users ?? { [ADMIN_SID]: { username: 'admin', isAdmin: true } });
  const port = await freePort();
  const daemon = makeDaemon(ns, {
    firewall: { lan: [] },
    api: { http: { enabled: true, host: '127.0.0.1', port }, qtsAuthUrl: qts.url, allowedHosts: ['127.0.0.1'], panelDir: PANEL_DIR },
    ...opts.config,
  });
  try {
    await daemon.start();
  } catch (e) {
    await daemon.destroy();
    await qts.stop();
    removeNamespace(ns);
    throw e;
  }
  return {
    url: `http://127.0.0.1:${port}/`,
    daemon,
    qts,
    ns,
    async stop() {
      if (daemon.process) await daemon.sipa('disable');
      await daemon.destroy();
      await qts.stop();
      removeNamespace(ns);
    },
  };
}

/** Opens the page in a fresh context, failing the test on any page error. */
export async function openPage(browser: Browser, url: string, sid: string | null, extra: ContextExtra = {}): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await contextFor(browser, url, sid, sid === ADMIN_SID ? 'admin' : undefined, extra);
  const page = await ctx.newPage();
  page.on('pageerror', e => { throw e; });
  await page.goto(url);
  return { ctx, page };
}

/** Until the switch can be used and the event stream is open. */
export async function panelReady(page: Page): Promise<void> {
  await page.getByRole('switch', { name: 'Secure IP Access' }).and(page.locator(':enabled')).waitFor();
  await page.locator('.live-live').waitFor();
}

/** A suite's browser and real daemon, and the one page open at a time (closed after each test). */
export interface PanelSuite {
  browser: Browser;
  rp: RealPanel;
  ctx: BrowserContext | null;
  /** The panel as the admin sees it, ready (switch usable, event stream open). */
  open(extra?: ContextExtra): Promise<Page>;
}

/** Starts a browser and a real daemon before the suite and stops them after it; closes each test's page. */
export function realPanelSuite(tag: string, opts: Parameters<typeof startRealPanel>[1] = {}): PanelSuite {
  const suite: PanelSuite = {
    browser: undefined as unknown as Browser,
    rp: undefined as unknown as RealPanel,
    ctx: null,
    async open(extra = {}) {
      const o = await openPage(suite.browser, suite.rp.url, ADMIN_SID, extra);
      suite.ctx = o.ctx;
      await panelReady(o.page);
      return o.page;
    },
  };
  before(async () => {
    suite.browser = await launchBrowser();
    suite.rp = await startRealPanel(tag, opts);
  });
  after(async () => {
    await suite.ctx?.close();
    await suite.browser?.close();
    await suite.rp?.stop();
  });
  afterEach(async () => {
    await suite.ctx?.close();
    suite.ctx = null;
  });
  return suite;
}

/** Everything the admin's HTTP session can call, as any client would (the daemon's own API). */
export async function adminApi(url: string, sid = ADMIN_SID, headers: Record<string, string> = {}) {
  const base = url.replace(/\/$/, '');
  const cookie = `NAS_SID=${sid}`;
  const s = await call({ base, path: '/api/v1/session', headers: { Cookie: cookie, ...headers } });
  if (s.status !== 200) throw new Error(`session: ${s.text}`);
  const h = { Cookie: cookie, 'X-CSRF-Token': s.json.csrfToken as string, ...headers };
  return {
    get: (p: string) => call({ base, path: `/api/v1/${p}`, headers: h }),
    post: (p: string, body: unknown) => call({ base, path: `/api/v1/${p}`, body, headers: h }),
  };
}
