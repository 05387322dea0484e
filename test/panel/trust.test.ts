// Issue 11, "never silent, never stale": the panel in Chromium against the real daemon (enforcing in a
// namespace of its own, its API on a fixed loopback port behind a fake QTS). A failed action stays on screen
// until dismissed, a signed-out admin gets a signed-out page and no event stream, a stopped daemon greys the
// page out and the panel comes back by itself when the daemon does.
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN_SID, launchBrowser, openPage, panelReady, RealPanel, shotPath, startRealPanel } from './support';
import { until } from '../../scripts/lib/wait';

describe('panel: never silent, never stale (real daemon)', function () {
  this.timeout(120_000);
  let browser: Browser;
  let rp: RealPanel;
  let ctx: BrowserContext | null = null;

  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    rp = await startRealPanel('pt');
  });
  afterEach(async () => {
    await ctx?.close();
    ctx = null;
    await rp?.stop();
  });

  async function open(): Promise<Page> {
    const o = await openPage(browser, rp.url, ADMIN_SID);
    ctx = o.ctx;
    await panelReady(o.page);
    return o.page;
  }

  const pill = (page: Page) => page.locator('.pill').innerText();

  it('a Revoke Request that fails because the daemon stopped stays on screen; the page greys out, says so, and recovers by itself', async () => {
    assert.equal((await rp.daemon.sipa('enable')).code, 0);
    assert.equal((await rp.daemon.sipa('register', '203.0.113.21', '--for', '1h', '--label', 'laptop')).code, 0);
    const page = await open();
    const row = page.locator('tr', { has: page.getByRole('rowheader', { name: '203.0.113.21' }) });
    await row.getByText('Active', { exact: true }).waitFor();
    assert.equal(await pill(page), 'On: enforcing');

    await row.getByRole('button', { name: 'Revoke Request for 203.0.113.21' }).click();
    const dlg = page.getByRole('alertdialog', { name: 'Revoke Request' });
    await dlg.waitFor();
    await rp.daemon.stop();
    await dlg.getByRole('button', { name: 'Revoke Request' }).click();
    await dlg.waitFor({ state: 'detached' });

    const failed = page.getByRole('alert').filter({ hasText: 'Revoke Request for 203.0.113.21 failed' });
    await failed.waitFor();
    assert.match(await failed.innerText(), /cannot be reached/);
    await page.getByRole('alert').filter({ hasText: 'Secure IP Access is not answering' }).waitFor({ timeout: 5000 });
    assert.match(await pill(page), /^Status unknown \(last known: on\)$/, 'the pill no longer vouches for enforcement');
    assert.match(await page.locator('.body').getAttribute('class') ?? '', /\bstale\b/, 'what cannot be vouched for is greyed out');
    assert.equal(await page.locator('.live').innerText(), 'Not connected');
    assert.equal(await row.getByRole('button', { name: 'Revoke Request for 203.0.113.21' }).getAttribute('aria-disabled'), 'true');
    await row.getByText('Active', { exact: true }).waitFor();
    await page.screenshot({ path: shotPath('trust-01-unreachable') });
    // Status re-renders, ticks and retries come and go; the failure stays.
    await page.waitForTimeout(2500);
    assert.equal(await failed.count(), 1, 'the failed action is still on screen');

    await rp.daemon.start();
    await page.locator('.live-live').waitFor({ timeout: 8000 });
    assert.equal(await page.getByText('Secure IP Access is not answering').count(), 0);
    assert.equal(await pill(page), 'On: enforcing');
    assert.doesNotMatch(await page.locator('.body').getAttribute('class') ?? '', /\bstale\b/);
    assert.equal(await failed.count(), 1, 'recovery does not hide what failed');
    await failed.getByRole('button', { name: /Dismiss/ }).click();
    assert.equal(await failed.count(), 0);

    await row.getByRole('button', { name: 'Revoke Request for 203.0.113.21' }).click();
    await page.getByRole('alertdialog', { name: 'Revoke Request' }).getByRole('button', { name: 'Revoke Request' }).click();
    await until('the device is revoked', async () => (await rp.daemon.sipaJson<unknown[]>('list')).length === 0, 5000);
  });

  it('an action that finds no service while the event stream still looks open does not leave the page greyed out for good', async () => {
    assert.equal((await rp.daemon.sipa('register', '203.0.113.22', '--for', '1h')).code, 0);
    const page = await open();
    // Only this one call fails (as a proxy in front of a busy daemon might); the stream stays open.
    await page.route('**/api/v1/devices/*/revoke', r => r.abort('connectionrefused'));
    await page.getByRole('button', { name: 'Revoke Request for 203.0.113.22' }).click();
    await page.getByRole('alertdialog', { name: 'Revoke Request' }).getByRole('button', { name: 'Revoke Request' }).click();
    await page.getByRole('alert').filter({ hasText: 'Revoke Request for 203.0.113.22 failed' }).waitFor();
    await page.locator('.live-live').waitFor({ timeout: 8000 });
    assert.equal(await page.getByText('Secure IP Access is not answering').count(), 0);
    assert.equal(await pill(page), 'Off: every internet address can connect');
  });

  it('backs off from 1 s while the daemon is away, so a restarted daemon is seen within a few seconds', async () => {
    const page = await open();
    const attempts: number[] = [];
    page.on('request', r => { if (r.url().endsWith('/api/v1/events')) attempts.push(Date.now()); });
    await rp.daemon.stop();
    await page.getByText('Secure IP Access is not answering').waitFor({ timeout: 5000 });
    await page.waitForTimeout(16_000);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
    assert.ok(attempts.length >= 5, `retries while away: ${attempts.length} (gaps ${gaps.join(', ')} ms)`);
    assert.ok(gaps[0] < 2500, `the second retry comes soon after the first, not ${gaps[0]} ms later`);
    assert.ok(Math.max(...gaps) < 6500, `no wait grows past about 5 s: ${gaps.join(', ')} ms`);
    await rp.daemon.start();
    await page.locator('.live-live').waitFor({ timeout: 8000 });
  });

  it('a Disable refused with 401 (the QTS session ended) shows the signed-out state with a way back, and stops the event stream', async () => {
    assert.equal((await rp.daemon.sipa('enable')).code, 0);
    const page = await open();
    const streams: string[] = [];
    page.on('request', r => { if (r.url().endsWith('/api/v1/events')) streams.push('open'); });
    page.on('requestfailed', r => { if (r.url().endsWith('/api/v1/events')) streams.push('closed'); });
    await ctx!.clearCookies();

    await page.getByRole('switch', { name: 'Secure IP Access' }).click();
    await page.getByRole('alertdialog', { name: 'Disable Secure IP Access?' }).getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('heading', { name: 'Your QTS session has ended' }).waitFor();
    const failed = page.getByRole('alert').filter({ hasText: 'Disable Secure IP Access failed' });
    await failed.waitFor();
    assert.match(await failed.innerText(), /Sign in to QTS again/);
    const back = page.getByRole('link', { name: 'Sign in to QTS' });
    assert.equal(await back.getAttribute('href'), '/cgi-bin/');
    assert.match(await pill(page), /^Signed out/, 'the pill no longer vouches for enforcement');
    await until('the event stream is closed', () => streams.includes('closed'), 3000);
    const opened = streams.filter(s => s === 'open').length;
    await page.waitForTimeout(3000);
    assert.equal(streams.filter(s => s === 'open').length, opened, 'no new event stream while signed out');
    assert.equal((await rp.daemon.sipaJson<{ enabled: boolean }>('status')).enabled, true, 'nothing was disabled');
    await page.screenshot({ path: shotPath('trust-02-signed-out') });

    // Signed in again: Reload brings the page back.
    await ctx!.addCookies([{ name: 'NAS_SID', value: ADMIN_SID, domain: '127.0.0.1', path: '/' }]);
    await page.getByRole('button', { name: 'Reload' }).click();
    await panelReady(page);
    assert.equal(await pill(page), 'On: enforcing');
  });
});
