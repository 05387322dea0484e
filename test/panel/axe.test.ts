// axe-core over the states issue 11 added, against the real daemon: row details, the register dialog with a
// field error, the cards of a narrow screen, the paged audit log, and the page while the daemon is away.
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN_SID, AXE, launchBrowser, openPage, panelReady, RealPanel, startRealPanel } from './support';

async function scan(page: Page, what: string): Promise<void> {
  const result = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: unknown }> }> }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map(v => ({ id: v.id, impact: v.impact, targets: v.nodes.map(n => JSON.stringify(n.target)).slice(0, 3) }));
  });
  const bad = result.filter(v => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `${what}: ${JSON.stringify(bad, null, 1)}`);
}

describe('panel: no serious or critical axe-core violations in the new states (real daemon)', function () {
  this.timeout(90_000);
  let browser: Browser;
  let rp: RealPanel;
  let ctx: BrowserContext | null = null;

  before(async () => {
    browser = await launchBrowser();
    rp = await startRealPanel('pa');
    assert.equal((await rp.daemon.sipa('register', '203.0.113.7', '2001:db8:1:2::7', '--for', '1h', '--label', 'laptop')).code, 0);
    assert.equal((await rp.daemon.sipa('register', '203.0.113.50', '--for', '5m', '--label', 'admin')).code, 0);
    assert.equal((await rp.daemon.sipa('revoke', '203.0.113.7')).code, 0);
    assert.equal((await rp.daemon.sipa('register', '203.0.113.7', '--for', '2h', '--label', 'laptop again')).code, 0);
  });
  after(async () => {
    await ctx?.close();
    await browser?.close();
    await rp?.stop();
  });

  async function open(viewport: { width: number; height: number }): Promise<Page> {
    await ctx?.close();
    // axe is injected as an inline script, which the page's CSP rightly forbids: this context bypasses CSP.
    const o = await openPage(browser, rp.url, ADMIN_SID, { bypassCSP: true, viewport, headers: { 'X-Forwarded-For': '203.0.113.50' } });
    ctx = o.ctx;
    await panelReady(o.page);
    await o.page.addScriptTag({ path: AXE });
    return o.page;
  }

  it('wide: details with history, "this is you" with its warning, the register dialog with an error, the audit log', async () => {
    const page = await open({ width: 1366, height: 768 });
    await page.getByRole('button', { name: 'Details for 203.0.113.7' }).click();
    await page.getByText(/Earlier registrations of 203\.0\.113\.7/).waitFor();
    await page.getByText('This is you').waitFor();
    await scan(page, 'list with details and the own-access warning');
    await page.getByRole('button', { name: 'Register a device' }).click();
    const dlg = page.getByRole('dialog', { name: 'Register a device' });
    await dlg.getByLabel('Address', { exact: true }).fill('nope');
    await dlg.getByRole('button', { name: 'Register' }).click();
    await dlg.locator('.field-error:not([hidden])').waitFor();
    await scan(page, 'register dialog with a field error');
    await page.keyboard.press('Escape');
    await page.getByRole('tab', { name: 'Audit log' }).click();
    await page.getByText(/^Entries 1–/).waitFor();
    await scan(page, 'audit log');
  });

  it('narrow: cards; and the page while the daemon is away', async () => {
    const page = await open({ width: 390, height: 844 });
    await page.getByRole('list', { name: 'Trusted list' }).waitFor();
    await scan(page, 'cards');
    await rp.daemon.stop();
    try {
      await page.getByText('Secure IP Access is not answering').waitFor({ timeout: 5000 });
      await scan(page, 'daemon away');
    } finally {
      await rp.daemon.start();
    }
  });
});
