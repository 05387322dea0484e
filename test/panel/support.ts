// What the browser tests run against. `startPanelServer` is the one place that decides what "the server under
// test" is: today the real API (startApi) over an in-memory FakeEngine; the lead can switch it to the real
// daemon in a network namespace, as long as it serves the built panel at `url` and honours the same
// authLogin.cgi URL, the allowlist (127.0.0.1) and X-Forwarded-For from loopback.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, Browser, BrowserContext } from 'playwright-core';
import { startApi } from '../../module/api';
import type { Status } from '../../module/engine/contract';
import { call } from '../api/helpers';
import { FakeEngine } from './fake-engine';

const REPO = path.resolve(__dirname, '..', '..', '..');
export const PANEL_DIR = path.join(REPO, 'dist', 'panel');
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
  /** The fake engine, when there is one (tests that need it skip otherwise). */
  engine: FakeEngine | null;
  stop(): Promise<void>;
}

let built = false;

/** Builds the panel once per run (esbuild, well under a second). */
export function buildPanel(): void {
  if (built) return;
  execFileSync(process.execPath, [path.join(REPO, 'scripts', 'build-panel.mjs'), PANEL_DIR], { stdio: 'ignore' });
  built = true;
}

export async function startPanelServer(opts: PanelServerOptions): Promise<PanelServer> {
  buildPanel();
  const engine = new FakeEngine({ portal: opts.portal });
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-panel-'));
  const api = await startApi({
    engine,
    runDir,
    config: { http: { enabled: true, host: '127.0.0.1', port: 0 }, token: null, qtsAuthUrl: opts.qtsAuthUrl, allowedHosts: ['127.0.0.1', 'localhost'], panelDir: PANEL_DIR },
  });
  return {
    url: `${api.httpUrl}/`,
    engine,
    async stop() {
      await api.stop();
      engine.close();
      fs.rmSync(runDir, { recursive: true, force: true });
    },
  };
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

/** A fresh browser context, signed in to "QTS" with the given sid (none = no cookie). */
export async function contextFor(browser: Browser, url: string, sid: string | null, user?: string, extra: { headers?: Record<string, string>; bypassCSP?: boolean } = {}): Promise<BrowserContext> {
  const ctx = await browser.newContext({ acceptDownloads: true, viewport: { width: 1360, height: 820 }, extraHTTPHeaders: extra.headers, bypassCSP: extra.bypassCSP, reducedMotion: 'reduce' });
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
