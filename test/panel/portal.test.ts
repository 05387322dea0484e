// Issue 11 with the whole cast (scripts/lib/stage.ts: the real daemon enforcing, the dev portal, a device on the
// internet): binding changes reach an open panel live, the panel links the NAS with a pairing code, and a
// portal session reads as the portal says it: "until sign-out", then "Ended: signed out".
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { buildStage, OWNER, Stage } from '../../scripts/lib/stage';
import { startPortalDevice, PortalDevice } from '../../scripts/lib/device';
import { until } from '../../scripts/lib/wait';
import type { Device } from '../../module/engine/contract';
import { buildPanel, launchBrowser, PANEL_DIR, panelReady, shotPath } from './support';

describe('panel: the portal link and portal sessions (real daemon, dev portal)', function () {
  this.timeout(120_000);
  let stage: Stage;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let phone: PortalDevice | null = null;

  before(async () => {
    buildPanel();
    stage = await buildStage({ tag: 'ppanel', leaseSeconds: 30, panelDir: PANEL_DIR });
    browser = await launchBrowser();
    ctx = await browser.newContext({ viewport: { width: 1366, height: 768 }, reducedMotion: 'reduce' });
    page = await ctx.newPage();
    page.on('pageerror', e => { throw e; });
    await page.goto(stage.panelUrl);
    await panelReady(page);
  });
  after(async () => {
    phone?.close();
    await ctx?.close();
    await browser?.close();
    await stage?.close();
  });

  const portalFact = () => page.getByText(/^myQNAPcloud: /).innerText();

  it('an unbind on the CLI shows at once; "Link to a QNAP ID" binds with a pairing code, and that shows at once too', async () => {
    await until('linked and connected', async () => (await portalFact()) === 'myQNAPcloud: linked, connected', 20_000, 100);
    const off = await stage.daemon.sipa('unbind');
    assert.equal(off.code, 0, off.stderr);
    await page.getByText('myQNAPcloud: not linked to a QNAP ID').waitFor({ timeout: 3000 });
    await page.locator('[aria-live="polite"][aria-atomic="true"]', { hasText: 'no longer linked' }).waitFor();

    await page.getByRole('button', { name: 'Link to a QNAP ID' }).click();
    const dlg = page.getByRole('dialog', { name: 'Link the NAS to a QNAP ID' });
    await dlg.getByLabel('Pairing code').fill('NOPE1234');
    await dlg.getByRole('button', { name: 'Link' }).click();
    await dlg.locator('.field-error').filter({ hasText: /./ }).waitFor();
    assert.equal(await dlg.getByLabel('Pairing code').getAttribute('aria-invalid'), 'true');
    await page.screenshot({ path: shotPath('portal-01-bind-error') });

    const { code } = await stage.owner.pairingCode();
    await dlg.getByLabel('Pairing code').fill(code);
    await dlg.getByRole('button', { name: 'Link' }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.getByText(/^myQNAPcloud: linked, (not )?connected$/).waitFor({ timeout: 3000 });
    assert.equal((await stage.daemon.sipaJson<{ portal: { bound: boolean } }>('status')).portal.bound, true);
    stage.nasId = (await stage.owner.nases()).find(n => n.connected)?.nasId ?? (await stage.owner.nases()).at(-1)!.nasId;
  });

  it('a portal session shows "until sign-out", and its end as "Ended: signed out" by the owner, in one wording everywhere', async () => {
    await until('linked and connected', async () => (await portalFact()) === 'myQNAPcloud: linked, connected', 20_000, 100);
    phone = startPortalDevice(stage.net.remote, stage.portalPublicUrl);
    await phone.call({ op: 'signin', qnapId: OWNER.qnapId, password: OWNER.password });
    await phone.call({ op: 'register', nasId: stage.nasId, expiry: 'session', label: 'phone' });
    const addr = stage.net.remoteAddr[4];
    const row = page.locator('tr', { has: page.getByRole('rowheader', { name: addr }) });
    await row.getByText('Active', { exact: true }).waitFor({ timeout: 5000 });
    assert.match(await row.innerText(), /until sign-out/);
    assert.equal(await row.getByRole('timer').count(), 0, 'no lease countdown for a session');

    await phone.call({ op: 'signout' });
    await row.waitFor({ state: 'detached', timeout: 5000 });
    await page.getByLabel('Show').selectOption('ended');
    await row.getByText('Ended: signed out', { exact: true }).waitFor();
    const text = await row.innerText();
    assert.match(text, new RegExp(`by ${OWNER.qnapId.replace('.', '\\.')} \\(myQNAPcloud\\)`));
    assert.doesNotMatch(text, /Revoked|portal:/);
    await row.getByRole('button', { name: `Details for ${addr}` }).click();
    assert.match(await page.locator('.details').innerText(), /Reason\s+signed out/);
    await page.screenshot({ path: shotPath('portal-02-signed-out') });

    await page.getByRole('tab', { name: 'Audit log' }).click();
    const audit = page.getByRole('table', { name: 'Audit log' });
    await audit.getByRole('cell', { name: 'until sign-out' }).first().waitFor();
    await audit.getByRole('cell', { name: `${OWNER.qnapId} (myQNAPcloud)` }).first().waitFor();
    assert.doesNotMatch(await audit.innerText(), /lease \d+s|session s-/);
    const d = (await stage.daemon.sipaJson<Device[]>('list', '--all')).find(x => x.address === addr && x.policy === 'session')!;
    assert.equal(d.endedBy, `portal:${OWNER.qnapId}`, 'the daemon\'s own record is unchanged; only its wording is');
  });
});
