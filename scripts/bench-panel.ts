// The panel's figures (part of `npm run bench`): Debian's Chromium (headless, playwright-core) against the real
// daemon holding 10,000 devices, in a namespace of the bench's own. For the build under test and, in the same
// run, a baseline build (the panel as issue 11 found it, BENCH_PANEL_BASELINE=<git ref>, "none" to skip) at
// 1,000 devices (at 10,000 the baseline takes minutes per event):
//   first-rows            navigation → the first rows on screen (fetching the list included)
//   first-render          the answer the first rows came from received → the first rows on screen
//   list-asked, list-server, list-transfer
//                         of first-rows: navigation → that request sent; sent → its first byte; first → last byte
//   list-complete         navigation → the whole list in the panel (search, every page, history)
//   live-event            main-thread work per registration event (CDP TaskDuration, idle subtracted)
//   search-keystroke      main-thread work per key, 16 keys typed 120 ms apart, results drawn
//   burst.longest-task    the longest main-thread task while 100 registrations a second arrive (5 s)
//   burst.busy            share of the main thread busy during that burst
// Then navigation alone at 10,000, the panel under test against the panel before the first page was served from
// the daemon's memory (BENCH_PANEL_PREVIOUS=<git ref>, "none" to skip), both from the same daemon, alternating,
// five navigations each: medians; from loopback, and as an admin on the internet whose address the QTS web
// server's proxy forwards (X-Forwarded-For), for whom the session answer says whether that address is registered.
// One JSON line per figure ({"name","n","value","unit"}), then a table.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, Browser, CDPSession, Page } from 'playwright-core';
import { addNamespace, removeNamespace } from './lib/netns';
import { makeDaemon, TestDaemon } from './lib/daemon';
import { sleep } from './lib/wait';

const REPO = path.resolve(__dirname, '..', '..');
const CURRENT_PANEL = path.join(REPO, 'dist', 'panel');
const BASELINE_REF = process.env.BENCH_PANEL_BASELINE ?? 'aaceff9';
const PREVIOUS_REF = process.env.BENCH_PANEL_PREVIOUS ?? '0b9602f';
const ROUNDS = 5;
const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface Figure { name: string; n: number; value: number; unit: string }
const figures: Figure[] = [];
const record = (name: string, n: number, value: number, unit: string) => {
  const f = { name, n, value: Math.round(value * 100) / 100, unit };
  figures.push(f);
  process.stdout.write(`${JSON.stringify(f)}\n`);
};

/** The daemon's own HTTP API with the dev token, as the panel calls it. */
class Api {
  private csrf = '';
  constructor(readonly base: string, private readonly token: string) {}
  private async call(method: string, p: string, body?: unknown): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
    const res = await fetch(`${this.base}/api/v1/${p}`, {
      method,
      headers: { Authorization: `Bearer ${this.token}`, 'X-CSRF-Token': this.csrf, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
    return JSON.parse(text);
  }
  async login(): Promise<void> {
    this.csrf = (await this.call('GET', 'session')).csrfToken;
  }
  post(p: string, body: unknown) {
    return this.call('POST', p, body);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const p = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(p));
    });
  });
}

const v6 = (prefix: string, i: number) => `2001:db8:${prefix}::${(i + 1).toString(16)}`;

async function registerMany(api: Api, prefix: string, from: number, count: number): Promise<void> {
  const devices = Array.from({ length: count }, (_, k) => ({ address: v6(prefix, from + k), label: `device ${from + k}`, expiry: { policy: 'fixed', seconds: 40_000 + ((from + k) % 3000) } }));
  await api.post('devices/batch', { devices });
}

/** The panel as of `ref`, built with that commit's own build script. */
function buildBaseline(ref: string, out: string): void {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-panel-baseline-'));
  try {
    execFileSync('bash', ['-c', `git -C "${REPO}" archive "${ref}" module/panel module/engine/contract.ts module/domain scripts/build-panel.mjs | tar -x -C "${tmp}"`]);
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(tmp, 'node_modules'));
    execFileSync(process.execPath, [path.join(tmp, 'scripts', 'build-panel.mjs'), out], { stdio: 'ignore' });
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Notes, in the page, when the first row appears in the panel's shadow root and every long task. */
const PAGE_PROBE = `(() => {
  window.__bench = { firstRow: 0, longTasks: [] };
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const root = attach.call(this, init);
    const mo = new MutationObserver(() => {
      if (!window.__bench.firstRow && root.querySelector('tbody tr, li.device-card')) {
        window.__bench.firstRow = performance.now();
        mo.disconnect();
      }
    });
    mo.observe(root, { childList: true, subtree: true });
    return root;
  };
  new PerformanceObserver(list => { for (const e of list.getEntries()) window.__bench.longTasks.push([e.startTime, e.duration]); })
    .observe({ type: 'longtask', buffered: true });
})();`;

interface Navigation {
  firstRows: number;
  /** The session request (the panel waits for it with the first page): request sent → answer. */
  session: number;
  listAsked: number;
  listServer: number;
  listTransfer: number;
  firstRender: number;
  listComplete: number;
}

/** Opens the page and waits for its first rows; where the time went, from the page's own timings. */
async function navigate(page: Page, url: string): Promise<Navigation> {
  await page.goto(url);
  await page.waitForFunction(() => (window as any).__bench.firstRow > 0, null, { timeout: 120_000, polling: 50 }); // eslint-disable-line @typescript-eslint/no-explicit-any
  await page.waitForFunction(() => {
    const r = document.querySelector('sipa-panel')?.shadowRoot;
    return !!r && /Live/.test(r.querySelector('.live')?.textContent ?? '');
  }, null, { timeout: 120_000 });
  return page.evaluate(() => {
    const rows = (window as any).__bench.firstRow as number; // eslint-disable-line @typescript-eslint/no-explicit-any
    // The list request the first rows came from: the first page, or (a panel without one) the whole list.
    const list = performance.getEntriesByType('resource').find(e => /\/api\/v1\/devices(\?|$)/.test(e.name)) as PerformanceResourceTiming | undefined;
    const complete = performance.getEntriesByName('sipa-list-complete')[0]?.startTime ?? rows;
    const session = performance.getEntriesByType('resource').find(e => /\/api\/v1\/session$/.test(e.name)) as PerformanceResourceTiming | undefined;
    return {
      firstRows: rows,
      session: session ? session.responseEnd - session.requestStart : 0,
      listAsked: list?.requestStart ?? 0,
      listServer: list ? list.responseStart - list.requestStart : 0,
      listTransfer: list ? list.responseEnd - list.responseStart : 0,
      firstRender: rows - (list?.responseEnd ?? 0),
      listComplete: complete,
    };
  });
}

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/**
 * The first rows of two panels at n devices, from the same daemon, alternating which goes first. `remote`: the
 * admin's address as the QTS web server's proxy forwards it (X-Forwarded-For from loopback), as on a NAS reached
 * from the internet; null: a browser on loopback.
 */
async function firstRowsRounds(browser: Browser, base: string, token: string, n: number, remote: string | null): Promise<void> {
  const runs: Record<'current' | 'previous', Navigation[]> = { current: [], previous: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order: Array<'current' | 'previous'> = round % 2 ? ['previous', 'current'] : ['current', 'previous'];
    for (const which of order) {
      const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, extraHTTPHeaders: remote ? { 'X-Forwarded-For': remote } : {} });
      await ctx.addInitScript({ content: PAGE_PROBE });
      try {
        const page = await ctx.newPage();
        runs[which].push(await navigate(page, `${base}/${which === 'previous' ? 'previous/index.html' : ''}#token=${token}`));
      } finally {
        await ctx.close();
      }
      await sleep(500);
    }
  }
  const where = remote ? '.remote-admin' : '';
  for (const which of ['current', 'previous'] as const) {
    const tag = `${which === 'current' ? 'panel' : 'panel.previous'}${where}`;
    const m = (k: keyof Navigation) => median(runs[which].map(r => r[k]));
    record(`${tag}.first-rows.median`, n, m('firstRows'), `ms (${ROUNDS} navigations)`);
    record(`${tag}.session.median`, n, m('session'), 'ms request → answer');
    record(`${tag}.list-asked.median`, n, m('listAsked'), 'ms after navigation');
    record(`${tag}.list-server.median`, n, m('listServer'), 'ms request → first byte');
    record(`${tag}.list-transfer.median`, n, m('listTransfer'), 'ms first → last byte');
    record(`${tag}.first-render.median`, n, m('firstRender'), 'ms answer → rows');
    record(`${tag}.list-complete.median`, n, m('listComplete'), 'ms after navigation');
  }
  record(`panel${where}.first-rows.previous-vs-current`, n, median(runs.previous.map(r => r.firstRows)) / median(runs.current.map(r => r.firstRows)), '×');
}

async function taskSeconds(cdp: CDPSession): Promise<number> {
  const { metrics } = await cdp.send('Performance.getMetrics');
  return metrics.find(m => m.name === 'TaskDuration')?.value ?? 0;
}

/** Main-thread seconds spent while `work` runs, less what the page spends idle in as long (timers, countdowns). */
async function mainThread(cdp: CDPSession, idlePerSecond: number, work: () => Promise<void>): Promise<{ busy: number; wall: number }> {
  const t0 = Date.now();
  const b0 = await taskSeconds(cdp);
  await work();
  const wall = (Date.now() - t0) / 1000;
  const busy = (await taskSeconds(cdp)) - b0 - idlePerSecond * wall;
  return { busy: Math.max(0, busy), wall };
}

/** Until the page's main thread is mostly idle again (a backlog of work counts where it was caused). */
async function settle(cdp: CDPSession): Promise<void> {
  const until = Date.now() + 120_000;
  for (;;) {
    const b = await taskSeconds(cdp);
    await sleep(500);
    if ((await taskSeconds(cdp)) - b < 0.05 || Date.now() > until) return;
  }
}

async function longestTaskSince(page: Page, since: number): Promise<number> {
  return page.evaluate(s => Math.max(0, ...(window as any).__bench.longTasks.filter((t: number[]) => t[0] + t[1] >= s).map((t: number[]) => t[1])), since); // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function scenario(browser: Browser, label: 'current' | 'baseline', url: string, token: string, api: Api, n: number, prefix: string, burstSeconds: number): Promise<void> {
  const tag = label === 'current' ? 'panel' : 'panel.baseline';
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  await ctx.addInitScript({ content: PAGE_PROBE });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('Performance.enable');
  try {
    const first = await navigate(page, `${url}/#token=${token}`);
    record(`${tag}.first-rows`, n, first.firstRows, 'ms');
    record(`${tag}.first-render`, n, first.firstRender, 'ms');
    record(`${tag}.list-asked`, n, first.listAsked, 'ms after navigation');
    record(`${tag}.list-server`, n, first.listServer, 'ms request → first byte');
    record(`${tag}.list-transfer`, n, first.listTransfer, 'ms first → last byte');
    record(`${tag}.list-complete`, n, first.listComplete, 'ms after navigation');
    // Until the page has settled (the event stream is open).
    await sleep(1500);
    record(`${tag}.elements`, n, await page.evaluate(() => document.querySelector('sipa-panel')!.shadowRoot!.querySelectorAll('*').length), 'elements');

    const idle = await mainThread(cdp, 0, () => sleep(3000));
    const idlePerSecond = idle.busy / idle.wall;

    // Live events, ten a second, each its own frame.
    const events = 30;
    let next = 60_000;
    const live = await mainThread(cdp, idlePerSecond, async () => {
      for (let i = 0; i < events; i++) {
        const t = Date.now();
        await api.post('devices', { address: v6(prefix, next++), label: 'live', expiry: { policy: 'fixed', seconds: 3600 } });
        await sleep(Math.max(0, 100 - (Date.now() - t)));
      }
      await settle(cdp);
    });
    record(`${tag}.live-event`, n, (live.busy * 1000) / events, 'ms main thread');

    // Search: 16 keys, 120 ms apart (a quick typist), then the results.
    const search = page.getByRole('searchbox', { name: 'Search the trusted list' });
    const query = v6('a', 499);
    const typing = await mainThread(cdp, idlePerSecond, async () => {
      await search.pressSequentially(query, { delay: 120 });
      await settle(cdp);
    });
    record(`${tag}.search-keystroke`, n, (typing.busy * 1000) / query.length, `ms main thread (${query.length} keys)`);
    await search.fill('');
    await settle(cdp);

    // 100 registrations a second.
    const since = await page.evaluate(() => performance.now());
    const burst = await mainThread(cdp, 0, async () => {
      const started = Date.now();
      const pending: Array<Promise<unknown>> = [];
      for (let i = 0; i < burstSeconds * 100; i++) {
        const due = started + i * 10;
        if (due > Date.now()) await sleep(due - Date.now());
        pending.push(api.post('devices', { address: v6(prefix, next++), label: 'burst', expiry: { policy: 'fixed', seconds: 3600 } }));
        if (pending.length >= 8) await pending.shift();
      }
      await Promise.all(pending);
      await settle(cdp);
    });
    record(`${tag}.burst.longest-task`, n, await longestTaskSince(page, since), 'ms (0: none of 50 ms or more)');
    record(`${tag}.burst.busy`, n, (100 * burst.busy) / burst.wall, '% of the main thread');
  } finally {
    await ctx.close();
  }
}

async function main(): Promise<void> {
  const ns = addNamespace(`sipa-bpanel-${process.pid}`);
  const token = crypto.randomBytes(24).toString('base64url');
  const port = await freePort();
  const baselineDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-panel-old-'));
  // The panel under test at /, the previous one at /previous/ (its manifest pointing at the same API).
  const servedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-panel-both-'));
  let daemon: TestDaemon | null = null;
  let browser: Browser | null = null;
  const startWith = async (panelDir: string) => {
    if (daemon) await daemon.stop();
    else {
      daemon = makeDaemon(ns, {
        firewall: { lan: [] },
        limits: { maxEntries: 65536 },
        api: { http: { enabled: true, host: '127.0.0.1', port }, token, allowedHosts: ['127.0.0.1'], panelDir },
      });
    }
    (daemon.config.api as { panelDir: string }).panelDir = panelDir;
    fs.writeFileSync(daemon.configPath, JSON.stringify(daemon.config, null, 2));
    await daemon.start();
    const api = new Api(`http://127.0.0.1:${port}`, token);
    await api.login();
    return api;
  };
  try {
    execFileSync(process.execPath, [path.join(REPO, 'scripts', 'build-panel.mjs'), CURRENT_PANEL], { stdio: 'ignore' });
    const baseline = BASELINE_REF !== 'none';
    if (baseline) buildBaseline(BASELINE_REF, baselineDir);
    const previous = PREVIOUS_REF !== 'none';
    fs.cpSync(CURRENT_PANEL, servedDir, { recursive: true });
    if (previous) {
      buildBaseline(PREVIOUS_REF, path.join(servedDir, 'previous'));
      const manifest = path.join(servedDir, 'previous', 'manifest.json');
      const m = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { attributes: Record<string, string> };
      m.attributes['api-base'] = '../api/v1/';
      fs.writeFileSync(manifest, JSON.stringify(m));
    }
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });

    let api = await startWith(servedDir);
    await registerMany(api, 'a', 0, 1000);
    await scenario(browser, 'current', api.base, token, api, 1000, 'b', 5);
    if (baseline) {
      api = await startWith(baselineDir);
      await scenario(browser, 'baseline', api.base, token, api, 1000, 'c', 1);
      api = await startWith(servedDir);
    }
    // To 10,000: what was added by the scenarios above stays and counts.
    const have = Number((await (await fetch(`${api.base}/api/v1/status`, { headers: { Authorization: `Bearer ${token}` } })).json()).activeDevices);
    if (have < 10_000) await registerMany(api, 'd', 0, 10_000 - have);
    await scenario(browser, 'current', api.base, token, api, 10_000, 'e', 5);
    if (previous) {
      await firstRowsRounds(browser, api.base, token, 10_000, null);
      await firstRowsRounds(browser, api.base, token, 10_000, '203.0.113.250');
    }
  } finally {
    await browser?.close();
    if (daemon) {
      await (daemon as TestDaemon).sipa('disable');
      await (daemon as TestDaemon).destroy();
    }
    removeNamespace(ns);
    fs.rmSync(baselineDir, { recursive: true, force: true });
    fs.rmSync(servedDir, { recursive: true, force: true });
  }
  process.stdout.write('\nPanel (Chromium, 1366×768, real daemon):\n');
  for (const f of figures) process.stdout.write(`  ${f.name.padEnd(34)} n=${String(f.n).padEnd(6)} ${String(f.value).padStart(9)} ${f.unit}\n`);
}

main().catch(err => {
  process.stderr.write(`bench-panel failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
