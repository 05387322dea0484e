// The QuFirewall panel in Debian's Chromium (headless, playwright-core) against the real API server and a fake
// authLogin.cgi. The server under test comes from startPanelServer (support.ts).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startFakeQts, FakeQts } from '../api/fake-qts';
import { AXE, contextFor, launchBrowser, registerThroughApi, shotPath, startPanelServer, PanelServer } from './support';
import { until } from '../../scripts/lib/wait';

const ADMIN_SID = 'qts-admin-sid';

function seconds(clockText: string): number {
  return clockText.split(':').map(Number).reduce((acc, n) => acc * 60 + n, 0);
}

describe('panel: QuFirewall settings page in Chromium', function () {
  this.timeout(60_000);
  let qts: FakeQts;
  let browser: Browser;
  let server: PanelServer;
  let ctx: BrowserContext | null = null;

  before(async () => {
    qts = await startFakeQts({ [ADMIN_SID]: { username: 'admin', isAdmin: true }, 'qts-user-sid': { username: 'alice', isAdmin: false } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await qts?.stop();
  });
  beforeEach(async () => {
    server = await startPanelServer({ qtsAuthUrl: qts.url });
  });
  afterEach(async () => {
    await ctx?.close();
    ctx = null;
    await server.stop();
  });

  async function open(sid: string | null = ADMIN_SID, extra: Parameters<typeof contextFor>[4] = {}): Promise<Page> {
    ctx = await contextFor(browser, server.url, sid, sid === ADMIN_SID ? 'admin' : undefined, extra);
    const page = await ctx.newPage();
    page.on('pageerror', e => { throw e; });
    await page.goto(server.url);
    return page;
  }

  async function ready(page: Page): Promise<void> {
    await page.getByRole('switch', { name: 'Secure IP Access' }).and(page.locator(':enabled')).waitFor();
    await page.locator('.live-live').waitFor();
  }

  const enabled = async () => (await server.engine.status()).enabled;
  const deviceAt = async (address: string) => (await server.engine.list({ all: true })).find(d => d.address === address);

  it('admin: enable, a device registered through the API appears live and counts down, Revoke Request → revoked', async () => {
    const page = await open();
    await ready(page);
    await assert.doesNotReject(page.getByRole('link', { name: 'Secure IP Access' }).and(page.locator('[aria-current="page"]')).waitFor());
    for (const entry of ['Overview', 'Rules', 'Profiles', 'Logs']) assert.equal(await page.getByRole('link', { name: entry }).count(), 1);
    await page.getByText('No registered devices yet.').waitFor();
    await page.screenshot({ path: shotPath('01-empty-off') });

    const sw = page.getByRole('switch', { name: 'Secure IP Access' });
    assert.equal(await sw.getAttribute('aria-checked'), 'false');
    await sw.click();
    const dlg = page.getByRole('dialog', { name: 'Enable Secure IP Access' });
    await dlg.waitFor();
    await page.screenshot({ path: shotPath('02-enable-dialog') });
    await dlg.getByRole('button', { name: 'Enable Secure IP Access' }).click();
    await page.locator('[role="switch"][aria-checked="true"]').waitFor();
    assert.equal(await enabled(), true);

    await registerThroughApi(server.url, ADMIN_SID, '203.0.113.7', 3600, "Ana's laptop");
    await registerThroughApi(server.url, ADMIN_SID, '2001:db8::42', 90, 'phone');
    const row = page.locator('tr', { has: page.getByRole('rowheader', { name: '203.0.113.7' }) });
    await row.waitFor();
    await row.getByText('Active').waitFor();
    const timer = row.getByRole('timer');
    const t1 = seconds(await timer.innerText());
    assert.ok(t1 > 3500 && t1 <= 3600, `countdown starts near 1 h, got ${t1}`);
    await page.waitForTimeout(2100);
    const t2 = seconds(await timer.innerText());
    assert.ok(t2 < t1, `countdown falls (${t1} → ${t2})`);
    // 90 s is inside the last-minute window soon: the phone row's announcement comes when it is ≤ 60 s.
    assert.match(await page.getByText(/shown ·/).innerText(), /2 shown · 2 active/);
    await page.screenshot({ path: shotPath('03-list-live') });

    await row.getByRole('button', { name: 'Revoke Request for 203.0.113.7' }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Revoke Request' });
    await confirm.waitFor();
    assert.match(await confirm.innerText(), /203\.0\.113\.7/);
    await page.screenshot({ path: shotPath('04-revoke-confirm') });
    await confirm.getByRole('button', { name: 'Revoke Request' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByLabel('Show').selectOption('all');
    await row.getByText('Revoked', { exact: true }).waitFor();
    assert.equal(await row.getByRole('button', { name: /Revoke Request/ }).count(), 0);
    assert.equal((await deviceAt('203.0.113.7'))?.state, 'revoked');
    assert.equal((await server.engine.audit()).find(e => e.action === 'revoke')?.actor, 'admin');
    await page.screenshot({ path: shotPath('05-revoked') });

    // Revoked elsewhere (the CLI, the portal): the panel hears it over SSE.
    await server.engine.revoke('2001:db8::42', { surface: 'portal', name: 'owner@example.com' }, 'lost');
    await page.locator('tr', { has: page.getByRole('rowheader', { name: '2001:db8::42' }) }).getByText('Revoked', { exact: true }).waitFor();

    await page.getByRole('tab', { name: 'Audit log' }).click();
    await page.getByRole('tabpanel').getByRole('cell', { name: 'revoked' }).first().waitFor();
    await page.getByRole('cell', { name: 'admin (panel)' }).first().waitFor();
    await page.screenshot({ path: shotPath('06-audit') });
  });

  it('overview: portal and local devices, session and fixed policies, an ended one, each row as it should read', async () => {
    const e = server.engine;
    const portal = (name: string) => ({ surface: 'portal' as const, name });
    await e.enable({ surface: 'cli', name: 'root' });
    await e.register({ address: '203.0.113.24', label: 'Ana – MacBook Air', qnapId: 'ana@example.com', source: 'portal', expiry: { policy: 'session', sessionId: 's-1', leaseSeconds: 1800 } }, portal('ana@example.com'));
    await e.register({ address: '2001:db8:4a::17', label: 'Ana – Pixel 8', qnapId: 'ana@example.com', source: 'portal', expiry: { policy: 'fixed', seconds: 7200 } }, portal('ana@example.com'));
    await e.register({ address: '198.51.100.61', label: 'Backup site NAS', qnapId: 'it@example.com', source: 'portal', expiry: { policy: 'fixed', seconds: 43200 } }, portal('it@example.com'));
    await e.register({ address: '203.0.113.90', label: 'Support laptop', source: 'local', expiry: { policy: 'fixed', seconds: 75 } }, { surface: 'panel', name: 'admin' });
    await e.register({ address: '198.51.100.7', label: 'Old tablet', qnapId: 'ben@example.com', source: 'portal', expiry: { policy: 'fixed', seconds: 3600 } }, portal('ben@example.com'));
    await e.revoke('198.51.100.7', { surface: 'panel', name: 'admin' }, 'lost device');
    const page = await open();
    await ready(page);
    await page.getByRole('rowheader', { name: '203.0.113.24' }).waitFor();
    const row = (addr: string) => page.locator('tr', { has: page.getByRole('rowheader', { name: addr }) });
    await page.getByLabel('Show').selectOption('all');
    await row('198.51.100.7').getByText('Revoked', { exact: true }).waitFor();
    await row('203.0.113.24').getByText('ana@example.com').waitFor();
    assert.match(await row('203.0.113.24').innerText(), /until sign-out/);
    assert.match(await row('203.0.113.90').innerText(), /Local/);
    assert.match(await page.getByText(/shown ·/).innerText(), /5 shown · 4 active/);
    await page.screenshot({ path: shotPath('00-overview') });
  });

  it('search and filters narrow the list; export gives CSV and JSON files', async () => {
    await registerThroughApi(server.url, ADMIN_SID, '203.0.113.10', 3600, 'office');
    await registerThroughApi(server.url, ADMIN_SID, '198.51.100.20', 3600, '=cmd|calc');
    await server.engine.revoke('198.51.100.20', { surface: 'cli', name: 'root' });
    const page = await open();
    await ready(page);
    const rows = page.getByRole('table', { name: 'Trusted list' }).locator('tbody tr');
    assert.equal(await rows.count(), 1, 'active devices only, by default');
    await page.getByLabel('Show').selectOption('all');
    assert.equal(await rows.count(), 2);
    await page.getByRole('searchbox', { name: 'Search the trusted list' }).fill('office');
    await page.getByText('1–1 of 1').waitFor();
    assert.equal(await rows.count(), 1);
    await page.getByRole('searchbox', { name: 'Search the trusted list' }).fill('nothing-like-this');
    await page.getByText('No device matches.').waitFor();
    await page.getByRole('searchbox', { name: 'Search the trusted list' }).fill('');
    await page.getByLabel('Show').selectOption('ended');
    await page.getByText('1–1 of 1').waitFor();
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getByRole('rowheader').innerText(), '198.51.100.20');
    await page.getByLabel('Show').selectOption('all');
    await page.getByText('1–2 of 2').waitFor();

    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('tabpanel').getByRole('button', { name: 'Export CSV' }).click()]);
    assert.match(csv.suggestedFilename(), /^secure-ip-access-devices-\d{8}-\d{6}\.csv$/);
    const csvText = fs.readFileSync(await csv.path(), 'utf8');
    assert.match(csvText, /^\uFEFFid,address,addresses,label,qnapId,source,term,/);
    assert.match(csvText, /203\.0\.113\.10,203\.0\.113\.10,office/);
    assert.match(csvText, /'=cmd\|calc/, 'formula-looking cells are defused');
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('tabpanel').getByRole('button', { name: 'Export JSON' }).click()]);
    const parsed = JSON.parse(fs.readFileSync(await json.path(), 'utf8')) as { devices: Array<{ address: string }> };
    assert.deepEqual(parsed.devices.map(d => d.address).sort(), ['198.51.100.20', '203.0.113.10']);

    await page.getByRole('tab', { name: 'Audit log' }).click();
    const [log] = await Promise.all([page.waitForEvent('download'), page.getByRole('tabpanel').getByRole('button', { name: 'Export CSV' }).click()]);
    assert.match(fs.readFileSync(await log.path(), 'utf8'), /^\uFEFFid,at,who,action/);
  });

  it('shown again after another QuFirewall page, the list and its controls agree', async () => {
    await registerThroughApi(server.url, ADMIN_SID, '203.0.113.7', 3600, 'laptop');
    const page = await open();
    await ready(page);
    await page.getByLabel('Show').selectOption('ended');
    await page.getByText('No ended devices.').waitFor();
    await page.getByRole('tab', { name: 'Audit log' }).click();
    // The host detaches the same element and attaches it again.
    await page.getByRole('link', { name: 'Rules' }).click();
    await page.getByRole('link', { name: 'Secure IP Access' }).click();
    await ready(page);
    assert.equal(await page.getByRole('tab', { name: 'Trusted list' }).getAttribute('aria-selected'), 'true');
    assert.equal(await page.getByLabel('Show').inputValue(), 'active');
    await page.getByRole('rowheader', { name: '203.0.113.7' }).waitFor({ timeout: 10_000 });
  });

  it('a non-admin QTS user and a missing session are refused', async () => {
    let page = await open('qts-user-sid');
    await page.getByRole('heading', { name: 'Administrators only' }).waitFor();
    assert.match(await page.getByRole('alert').innerText(), /signed in as alice/);
    assert.equal(await page.getByRole('switch').isDisabled(), true);
    assert.equal(await page.locator('tbody tr').count(), 0);
    await page.screenshot({ path: shotPath('07-not-admin') });
    await ctx?.close();
    page = await open(null);
    await page.getByRole('heading', { name: 'Sign in to QTS as an administrator' }).waitFor();
    await page.screenshot({ path: shotPath('08-no-session') });
  });

  it('enabling from an unregistered remote address warns and registers it first', async () => {
    const page = await open(ADMIN_SID, { headers: { 'X-Forwarded-For': '203.0.113.50' } });
    await ready(page);
    await page.getByRole('switch', { name: 'Secure IP Access' }).click();
    const dlg = page.getByRole('alertdialog', { name: 'Enable Secure IP Access' });
    await dlg.waitFor();
    assert.match(await dlg.getByRole('alert').innerText(), /203\.0\.113\.50, which is not registered.*cut this session/s);
    await dlg.getByLabel(/Keep 203\.0\.113\.50 registered for/).selectOption({ label: '4 hours' });
    await page.screenshot({ path: shotPath('09-lockout-warning') });
    await dlg.getByRole('button', { name: 'Register and enable' }).click();
    await page.locator('[role="switch"][aria-checked="true"]').waitFor();
    const row = page.locator('tr', { has: page.getByRole('rowheader', { name: '203.0.113.50' }) });
    await row.waitFor();
    const left = seconds(await row.getByRole('timer').innerText());
    assert.ok(left > 4 * 3600 - 30 && left <= 4 * 3600, `registered for 4 h, ${left}s left`);
    assert.equal((await deviceAt('203.0.113.50'))?.source, 'local');
    assert.equal(await enabled(), true);
    // Registered now: switching off and on again gives no warning.
    await page.getByRole('switch').click();
    await page.getByRole('alertdialog', { name: 'Disable Secure IP Access?' }).getByRole('button', { name: 'Disable' }).click();
    await page.locator('[role="switch"][aria-checked="false"]').waitFor();
    await page.getByRole('switch').click();
    await page.getByRole('dialog', { name: 'Enable Secure IP Access' }).waitFor();
    assert.equal(await page.getByRole('dialog').getByRole('alert').count(), 0);
  });

  it('enabling while the portal is configured but unbound shows the binding prompt', async () => {
    await server.stop();
    server = await startPanelServer({ qtsAuthUrl: qts.url, portal: { configured: true, bound: false, connected: false } });
    const page = await open();
    await ready(page);
    await page.getByRole('switch').click();
    const prompt = page.getByRole('alertdialog', { name: 'Link the NAS to a QNAP ID first' });
    await prompt.waitFor();
    await page.screenshot({ path: shotPath('10-binding-prompt') });
    await prompt.getByRole('button', { name: 'Cancel' }).click();
    assert.equal(await page.getByRole('switch').getAttribute('aria-checked'), 'false');
    assert.equal(await enabled(), false);
    await page.getByRole('switch').click();
    await page.getByRole('alertdialog', { name: 'Link the NAS to a QNAP ID first' }).getByRole('button', { name: 'Enable without a QNAP ID' }).click();
    await page.getByRole('dialog', { name: 'Enable Secure IP Access' }).getByRole('button', { name: 'Enable Secure IP Access' }).click();
    await page.locator('[role="switch"][aria-checked="true"]').waitFor();
  });

  it('works with the keyboard alone: focus order, Escape closes dialogs, visible focus', async () => {
    await registerThroughApi(server.url, ADMIN_SID, '203.0.113.77', 600, 'tablet');
    const page = await open();
    await ready(page);
    const focused = () => page.evaluate(() => {
      let el: Element | null = document.activeElement;
      while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
      return el ? { role: el.getAttribute('role'), type: el.getAttribute('type'), text: (el.getAttribute('aria-label') ?? el.textContent ?? '').trim(), outline: getComputedStyle(el).outlineStyle } : null;
    });
    // Side panel links first, then the switch.
    let f = null;
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      f = await focused();
      if (f?.role === 'switch') break;
    }
    assert.equal(f?.role, 'switch', 'the switch is reachable by Tab after the side panel');
    assert.notEqual(f?.outline, 'none', 'focus is visible');
    await page.keyboard.press('Space');
    await page.getByRole('dialog', { name: 'Enable Secure IP Access' }).waitFor();
    assert.equal((await focused())?.text, 'Enable Secure IP Access', 'the dialog opens on its main action');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    assert.equal((await focused())?.role, 'switch', 'Escape closes and gives focus back');
    assert.equal(await enabled(), false);
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Enable Secure IP Access' }).waitFor();
    await page.keyboard.press('Enter');
    await page.locator('[role="switch"][aria-checked="true"]').waitFor();

    // Tab on to the row's Revoke Request.
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press('Tab');
      f = await focused();
      if (f?.text === 'Revoke Request for 203.0.113.77') break;
    }
    assert.equal(f?.text, 'Revoke Request for 203.0.113.77');
    await page.keyboard.press('Enter');
    await page.getByRole('alertdialog', { name: 'Revoke Request' }).waitFor();
    assert.equal((await focused())?.text, 'Cancel', 'a destructive dialog opens on Cancel');
    await page.keyboard.press('Escape');
    await page.getByRole('alertdialog').waitFor({ state: 'detached' });
    assert.equal((await focused())?.text, 'Revoke Request for 203.0.113.77');
    await page.keyboard.press('Enter');
    await page.getByRole('alertdialog', { name: 'Revoke Request' }).waitFor();
    await page.keyboard.press('Shift+Tab'); // the reason field, before the buttons
    await page.keyboard.type('lost tablet');
    await page.keyboard.press('Tab');
    assert.equal((await focused())?.text, 'Cancel');
    await page.keyboard.press('Tab');
    assert.equal((await focused())?.text, 'Revoke Request');
    await page.keyboard.press('Enter');
    await page.locator('tr', { has: page.getByRole('rowheader', { name: '203.0.113.77' }) }).waitFor({ state: 'detached' });
    assert.equal((await deviceAt('203.0.113.77'))?.endReason, 'lost tablet');
    // The row may leave with the event stream's news a moment before the action's answer moves the focus.
    await until('focus on the list\'s search', async () => (await focused())?.type === 'search', 2000).catch(() => undefined);
    assert.equal((await focused())?.type, 'search', 'no row took its place: focus goes to the list\'s search, not the page');

    // Tabs: arrow keys move between the list and the log.
    await page.getByRole('tab', { name: 'Trusted list' }).focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByRole('tab', { name: 'Audit log' }).getAttribute('aria-selected'), 'true');
    await page.getByRole('tabpanel', { name: 'Audit log' }).waitFor();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByRole('tab', { name: 'Trusted list' }).getAttribute('aria-selected'), 'true', 'the last tab wraps to the first');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await page.getByRole('tab', { name: 'Audit log' }).getAttribute('aria-selected'), 'true', 'the first tab wraps back to the last');
    await page.keyboard.press('Home');
    assert.equal(await page.getByRole('tab', { name: 'Trusted list' }).getAttribute('aria-selected'), 'true');
  });

  it('announces a device near its end, and its expiry when the engine books it', async () => {
    // 8 s: time to open the page inside the last minute, and a short wait for the engine's own expiry.
    await registerThroughApi(server.url, ADMIN_SID, '203.0.113.88', 8, 'short');
    const page = await open();
    await ready(page);
    await page.locator('[aria-live="polite"][aria-atomic="true"]', { hasText: /203\.0\.113\.88 \(short\) ends in/ }).waitFor({ timeout: 10_000 });
    const row = page.locator('tr', { has: page.getByRole('rowheader', { name: '203.0.113.88' }) });
    assert.match(await row.getAttribute('class') ?? '', /soon/);
    await page.locator('[aria-live="polite"][aria-atomic="true"]', { hasText: /203\.0\.113\.88 \(short\) has expired/ }).waitFor();
    await row.waitFor({ state: 'detached' });
    await page.getByLabel('Show').selectOption('ended');
    await row.getByText('Expired', { exact: true }).waitFor();
    assert.equal(await row.getByRole('timer').count(), 0);
  });

  it('has no serious or critical axe-core violations (list, dialog, audit log)', async () => {
    await registerThroughApi(server.url, ADMIN_SID, '203.0.113.7', 3600, 'laptop');
    // axe is injected as an inline script, which the page's CSP rightly forbids: this context bypasses CSP.
    const page = await open(ADMIN_SID, { bypassCSP: true });
    await ready(page);
    await page.addScriptTag({ path: AXE });
    const scan = async (what: string) => {
      const result = await page.evaluate(async () => {
        const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: unknown }> }> }> } }).axe;
        const r = await axe.run(document, { resultTypes: ['violations'] });
        return r.violations.map(v => ({ id: v.id, impact: v.impact, targets: v.nodes.map(n => JSON.stringify(n.target)).slice(0, 3) }));
      });
      const bad = result.filter(v => v.impact === 'serious' || v.impact === 'critical');
      assert.deepEqual(bad, [], `${what}: ${JSON.stringify(bad, null, 1)}`);
    };
    await scan('trusted list');
    await page.getByRole('button', { name: 'Revoke Request for 203.0.113.7' }).click();
    await page.getByRole('alertdialog').waitFor();
    await scan('revoke dialog');
    await page.keyboard.press('Escape');
    await page.getByRole('tab', { name: 'Audit log' }).click();
    await scan('audit log');
  });
});
