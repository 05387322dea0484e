// Issue 11, "the admin's own access": the panel in Chromium against the real daemon. The admin's own row is
// marked, its end is warned about and can be extended; "Register a device" and "Extend" speak the CLI's
// validation messages; after a Revoke Request or a switch change the keyboard is where the admin was.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { ADMIN_SID, RealPanel, realPanelSuite, shotPath } from './support';
import type { Device } from '../../module/engine/contract';

/** The innermost focused element: role and accessible-name-ish text. */
function focused(page: Page) {
  return page.evaluate(() => {
    let el: Element | null = document.activeElement;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement;
    return el ? { role: el.getAttribute('role'), name: (el.getAttribute('aria-label') ?? el.textContent ?? '').trim(), tag: el.tagName } : null;
  });
}

/** What `sipa` itself prints for an invalid registration (without "sipa: "). */
async function cliSays(rp: RealPanel, ...args: string[]): Promise<string> {
  const r = await rp.daemon.sipa('register', ...args);
  assert.equal(r.code, 2, `sipa register ${args.join(' ')} should be refused: ${r.stdout}${r.stderr}`);
  return r.stderr.trim().replace(/^sipa: /, '');
}

const asShown = (cli: string) => (cli[0].toUpperCase() + cli.slice(1)).replace(/([^.!?)])$/, '$1.');

describe('panel: the admin\'s own access (real daemon)', function () {
  this.timeout(90_000);
  const panel = realPanelSuite('po');

  afterEach(async () => {
    for (const d of await panel.rp.daemon.sipaJson<Device[]>('list')) await panel.rp.daemon.sipa('revoke', String(d.id));
    await panel.rp.daemon.sipa('disable');
  });

  const open = (from?: string) => panel.open(from ? { headers: { 'X-Forwarded-For': from } } : {});
  const row = (page: Page, addr: string) => page.locator('tr', { has: page.getByRole('rowheader', { name: addr, exact: false }) });

  it('marks "this is you", warns before the admin\'s own access ends, extends it, and says when it was revoked', async () => {
    assert.equal((await panel.rp.daemon.sipa('register', '203.0.113.50', '--for', '10m', '--label', 'admin laptop')).code, 0);
    assert.equal((await panel.rp.daemon.sipa('register', '203.0.113.51', '--for', '1h', '--label', 'someone else')).code, 0);
    assert.equal((await panel.rp.daemon.sipa('enable')).code, 0);
    const page = await open('203.0.113.50');
    await row(page, '203.0.113.50').getByText('This is you').waitFor();
    assert.equal(await row(page, '203.0.113.51').getByText('This is you').count(), 0);
    const own = page.getByRole('status').filter({ hasText: 'Your own access from 203.0.113.50 ends in' });
    await own.waitFor();
    assert.match(await own.innerText(), /ends in (9|10) minutes.*the NAS cuts this session/s);
    await page.screenshot({ path: shotPath('own-01-warning') });

    await own.getByRole('button', { name: 'Extend my access' }).click();
    const dlg = page.getByRole('dialog', { name: 'Extend access for 203.0.113.50' });
    await dlg.getByLabel('For', { exact: true }).selectOption({ label: '2 hours' });
    await dlg.getByRole('button', { name: 'Extend' }).click();
    await dlg.waitFor({ state: 'detached' });
    await own.waitFor({ state: 'detached' });
    const mine = (await panel.rp.daemon.sipaJson<Device[]>('list')).find(d => d.address === '203.0.113.50')!;
    const left = ((mine.expiresAt as number) - Date.now()) / 1000;
    assert.ok(left > 7100 && left <= 7200, `extended to 2 h from now, ${left}s left`);
    assert.equal(mine.label, 'admin laptop', 'the label stays');
    assert.equal((await focused(page))?.name, 'Extend 203.0.113.50', 'focus goes to the row\'s Extend when the warning is gone');

    assert.equal((await panel.rp.daemon.sipa('revoke', '203.0.113.50', '--reason', 'test')).code, 0);
    const gone = page.getByRole('status').filter({ hasText: /Your own access from 203\.0\.113\.50 was revoked at \d\d:\d\d by \S+ \(CLI\)/ });
    await gone.waitFor();
    assert.match(await gone.innerText(), /can cut this session/);
    await gone.getByRole('button', { name: 'Register this address' }).click();
    const reg = page.getByRole('dialog', { name: 'Register a device' });
    assert.equal(await reg.getByLabel('Address', { exact: true }).inputValue(), '203.0.113.50');
    await page.keyboard.press('Escape');
  });

  it('warns an unregistered admin again after a sign-out and Reload (the same warning as before is drawn anew)', async () => {
    const page = await open('203.0.113.52');
    const warning = page.getByRole('status').filter({ hasText: 'You are connected from 203.0.113.52, which is not registered.' });
    await warning.waitFor();
    await panel.ctx!.clearCookies();
    await warning.getByRole('button', { name: 'Register this address' }).click();
    const dlg = page.getByRole('dialog', { name: 'Register a device' });
    await dlg.getByRole('button', { name: 'Register' }).click();
    await page.getByRole('heading', { name: 'Your QTS session has ended' }).waitFor();
    assert.equal(await warning.count(), 0, 'signed out: nothing about the admin\'s access');
    await panel.ctx!.addCookies([{ name: 'NAS_SID', value: ADMIN_SID, domain: '127.0.0.1', path: '/' }]);
    await page.getByRole('button', { name: 'Reload' }).click();
    await warning.waitFor({ timeout: 8000 });
    assert.deepEqual(await panel.rp.daemon.sipaJson<Device[]>('list'), [], 'nothing was registered while signed out');
  });

  it('IPv6 under the /64 scope: the row that allows the admin\'s network is "you", and its details say what is really allowed', async () => {
    assert.equal((await panel.rp.daemon.sipa('register', '2001:db8:1:2::7', '--for', '1h', '--label', 'phone')).code, 0);
    const page = await open('2001:db8:1:2::99');
    const r = row(page, '2001:db8:1:2::7');
    await r.getByText('This is you').waitFor();
    await r.getByRole('button', { name: 'Details for 2001:db8:1:2::7' }).click();
    await page.getByText("2001:db8:1:2::/64 — this device's network (seen from 2001:db8:1:2::7)").waitFor();
    await page.getByText("IPv6: a device's network (/64)").waitFor();
  });

  it('"Register a device" and "Extend" refuse what the CLI refuses, with the CLI\'s words, at the field concerned', async () => {
    const page = await open();
    await page.getByRole('button', { name: 'Register a device' }).click();
    const dlg = page.getByRole('dialog', { name: 'Register a device' });
    const address = dlg.getByLabel('Address', { exact: true });
    assert.equal((await focused(page))?.tag, 'INPUT', 'the dialog opens on the address');

    await address.fill('203.0.113.300');
    await dlg.getByRole('button', { name: 'Register' }).click();
    const addrError = asShown(await cliSays(panel.rp, '203.0.113.300', '--for', '1h'));
    await dlg.getByText(addrError, { exact: true }).waitFor();
    assert.equal(await address.getAttribute('aria-invalid'), 'true');
    assert.match(await address.getAttribute('aria-describedby') ?? '', /-err/, 'the message is tied to the field');
    assert.equal((await focused(page))?.tag, 'INPUT');

    await address.fill('203.0.113.60');
    await dlg.getByLabel('For', { exact: true }).selectOption({ label: 'Other…' });
    await dlg.getByLabel('Duration').fill('90x');
    await dlg.getByRole('button', { name: 'Register' }).click();
    const durError = asShown((await cliSays(panel.rp, '203.0.113.60', '--for', '90x')).replace(' for --for', ''));
    await dlg.getByText(durError, { exact: true }).waitFor();

    await dlg.getByLabel('Duration').fill('13h');
    await dlg.getByRole('button', { name: 'Register' }).click();
    await dlg.getByText(asShown(await cliSays(panel.rp, '203.0.113.60', '--for', '13h')), { exact: true }).waitFor();

    await dlg.getByLabel('Duration').fill('30m');
    await dlg.getByLabel('Label').fill('x'.repeat(70));
    await dlg.getByRole('button', { name: 'Register' }).click();
    await dlg.getByText(asShown(await cliSays(panel.rp, '203.0.113.60', '--for', '30m', '--label', 'x'.repeat(70))), { exact: true }).waitFor();
    await page.screenshot({ path: shotPath('own-02-register-error') });

    await dlg.getByLabel('Label').fill('printer');
    await dlg.getByRole('button', { name: 'Register' }).click();
    await dlg.waitFor({ state: 'detached' });
    const d = (await panel.rp.daemon.sipaJson<Device[]>('list')).find(x => x.address === '203.0.113.60')!;
    assert.equal(d.label, 'printer');
    assert.equal(d.source, 'local');
    assert.ok(Math.abs(((d.expiresAt as number) - d.registeredAt) / 1000 - 1800) < 2, 'registered for 30 minutes');
    await row(page, '203.0.113.60').getByText('Active', { exact: true }).waitFor();
    assert.equal((await focused(page))?.name, 'Register a device', 'focus returns to the button');

    // Extend: the same words for the same mistakes; then the new period replaces the old.
    await row(page, '203.0.113.60').getByRole('button', { name: 'Extend 203.0.113.60' }).click();
    const ext = page.getByRole('dialog', { name: 'Extend access for 203.0.113.60' });
    await ext.getByLabel('For', { exact: true }).selectOption({ label: 'Other…' });
    await ext.getByLabel('Duration').fill('1h 30x');
    await ext.getByRole('button', { name: 'Extend' }).click();
    await ext.getByText(asShown((await cliSays(panel.rp, '203.0.113.60', '--for', '1h 30x')).replace(' for --for', '')), { exact: true }).waitFor();
    await ext.getByLabel('Duration').fill('4h');
    await ext.getByRole('button', { name: 'Extend' }).click();
    await ext.waitFor({ state: 'detached' });
    const after = (await panel.rp.daemon.sipaJson<Device[]>('list')).find(x => x.address === '203.0.113.60')!;
    assert.equal(after.id, d.id, 'the same device, renewed');
    assert.ok(Math.abs(((after.expiresAt as number) - Date.now()) / 1000 - 4 * 3600) < 5, 'now ends 4 h from now');
    assert.equal((await focused(page))?.name, 'Extend 203.0.113.60', 'focus returns to Extend');
  });

  it('after a Revoke Request the keyboard is on the row that took its place; after a switch change, on the switch', async () => {
    for (const [addr, t] of [['203.0.113.31', '10m'], ['203.0.113.32', '20m'], ['203.0.113.33', '30m']]) {
      assert.equal((await panel.rp.daemon.sipa('register', addr, '--for', t)).code, 0);
    }
    const page = await open();
    const sw = page.getByRole('switch', { name: 'Secure IP Access' });
    await sw.focus();
    await page.keyboard.press('Space');
    await page.getByRole('dialog', { name: 'Enable Secure IP Access' }).waitFor();
    await page.keyboard.press('Enter');
    await page.locator('[role="switch"][aria-checked="true"]').waitFor();
    await page.waitForTimeout(300);
    assert.equal((await focused(page))?.role, 'switch', 'the switch keeps focus after enabling');

    await row(page, '203.0.113.32').getByRole('button', { name: 'Revoke Request for 203.0.113.32' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('alertdialog', { name: 'Revoke Request' }).waitFor();
    await page.keyboard.press('Tab'); // Cancel → Revoke Request
    await page.keyboard.press('Enter');
    await page.getByRole('alertdialog').waitFor({ state: 'detached' });
    await row(page, '203.0.113.32').waitFor({ state: 'detached' });
    assert.equal((await focused(page))?.name, 'Revoke Request for 203.0.113.33', 'the next row\'s Revoke Request');

    await page.keyboard.press('Shift+Tab'); // Extend of .33
    await page.keyboard.press('Shift+Tab');
    assert.match((await focused(page))?.name ?? '', /203\.0\.113\.31|Details for 203\.0\.113\.33/, 'the keyboard goes on from there');
    await sw.focus();
    await page.keyboard.press('Space');
    await page.getByRole('alertdialog', { name: 'Disable Secure IP Access?' }).getByRole('button', { name: 'Disable' }).click();
    await page.locator('[role="switch"][aria-checked="false"]').waitFor();
    await page.waitForTimeout(300);
    assert.equal((await focused(page))?.role, 'switch', 'the switch keeps focus after disabling');
  });
});
