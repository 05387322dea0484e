// Issue 11, "fits the screen": the host page with the panel in Chromium at 1366×768 and 390×844, against the
// real daemon. Address, Remaining, Status and Revoke are always in view; long labels are cut short on screen
// but whole in the title and the accessible name; below a width the list is one card per device and the host
// page's side panel folds away.
import assert from 'node:assert/strict';
import type { Locator, Page } from 'playwright-core';
import { realPanelSuite, shotPath } from './support';

const LONG = 'Conference room projector, second floor, east wing (rented), #42'; // 64 characters
const DEVICES: Array<[string[], string, string]> = [
  [['203.0.113.10'], '1h', 'phone (2 min)'],
  [['2001:db8:4a:1234:5678:9abc:def0:1234', '198.51.100.61'], '2h', 'Ana – MacBook Air'],
  [['203.0.113.90'], '12h', LONG],
  [['198.51.100.7'], '30m', 'Old tablet'],
  [['203.0.113.24'], '4h', 'Backup site NAS'],
];

async function inView(page: Page, what: Locator, label: string): Promise<void> {
  const box = await what.boundingBox();
  const vw = page.viewportSize()!.width;
  assert.ok(box, `${label} is laid out`);
  assert.ok(box.x >= 0 && box.x + box.width <= vw + 0.5, `${label} lies within the ${vw} px viewport: x ${box.x.toFixed(0)}..${(box.x + box.width).toFixed(0)}`);
}

describe('panel: fits the screen (real daemon, host page)', function () {
  this.timeout(90_000);
  const panel = realPanelSuite('ps');

  before(async () => {
    for (const [addrs, t, label] of DEVICES) {
      const r = await panel.rp.daemon.sipa('register', ...addrs, '--for', t, '--label', label);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal((await panel.rp.daemon.sipa('enable')).code, 0);
  });

  const open = (width: number, height: number) => panel.open({ viewport: { width, height } });

  it('1366×768: no column is pushed off screen, long labels are cut with the full text in title and name, Tab keeps the Address in view', async () => {
    const page = await open(1366, 768);
    const table = page.getByRole('table', { name: 'Trusted list' });
    const rows = table.locator('tbody tr');
    assert.equal(await rows.count(), DEVICES.length);
    const overflow = await table.evaluate(t => ({ table: t.scrollWidth, box: t.parentElement!.clientWidth }));
    assert.ok(overflow.table <= overflow.box, `the table fits its box: ${overflow.table} of ${overflow.box} px`);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scroll on the page');
    for (let i = 0; i < DEVICES.length; i++) {
      const row = rows.nth(i);
      const addr = await row.getByRole('rowheader').innerText();
      await inView(page, row.getByRole('rowheader'), `Address of ${addr}`);
      await inView(page, row.locator('td').nth(4), `Remaining of ${addr}`);
      await inView(page, row.locator('td').nth(5), `Status of ${addr}`);
      await inView(page, row.getByRole('button', { name: /^Revoke Request for / }), `Revoke of ${addr}`);
    }
    const label = table.getByRole('cell', { name: LONG, exact: true });
    assert.equal(await label.getAttribute('title'), LONG);
    assert.ok(await label.evaluate(el => el.scrollWidth > el.clientWidth), 'the long label is cut short on screen');
    await page.screenshot({ path: shotPath('screen-01-1366') });

    // Tab from the search box through the rows to the last Revoke Request: nothing scrolls sideways.
    await page.getByRole('searchbox', { name: 'Search the trusted list' }).focus();
    const lastRevoke = rows.last().getByRole('button', { name: /^Revoke Request for / });
    const target = await lastRevoke.getAttribute('aria-label');
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      const name = await page.evaluate(() => document.querySelector('sipa-panel')!.shadowRoot!.activeElement?.getAttribute('aria-label'));
      if (name === target) break;
    }
    assert.equal(await page.evaluate(() => document.querySelector('sipa-panel')!.shadowRoot!.activeElement?.getAttribute('aria-label')), target);
    await inView(page, rows.last().getByRole('rowheader'), 'the Address of the row being acted on');
    assert.equal(await page.evaluate(() => window.scrollX), 0);
  });

  it('390×844: the side panel folds away, the switch is in view, each device is a card with Address, Remaining, Status and Revoke in view', async () => {
    const page = await open(390, 844);
    const menu = page.getByRole('button', { name: 'QuFirewall menu' });
    assert.equal(await menu.isVisible(), true);
    assert.equal(await page.getByRole('navigation', { name: 'QuFirewall' }).isVisible(), false, 'the side panel is folded');
    await inView(page, page.getByRole('switch', { name: 'Secure IP Access' }), 'the switch');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no horizontal scroll on the page');
    assert.equal(await page.getByRole('table', { name: 'Trusted list' }).isVisible(), false);
    const cards = page.getByRole('list', { name: 'Trusted list' }).getByRole('listitem');
    assert.equal(await cards.count(), DEVICES.length);
    for (let i = 0; i < DEVICES.length; i++) {
      const card = cards.nth(i);
      const addr = await card.locator('.addr').innerText();
      await inView(page, card.locator('.addr'), `Address of ${addr}`);
      await inView(page, card.getByRole('timer'), `Remaining of ${addr}`);
      await inView(page, card.locator('.badge').first(), `Status of ${addr}`);
      await inView(page, card.getByRole('button', { name: /^Revoke Request for / }), `Revoke of ${addr}`);
    }
    const label = page.getByText(LONG, { exact: true });
    assert.equal(await label.getAttribute('title'), LONG);
    await page.screenshot({ path: shotPath('screen-02-390'), fullPage: true });

    await menu.click();
    assert.equal(await menu.getAttribute('aria-expanded'), 'true');
    await page.getByRole('link', { name: 'Rules' }).click();
    assert.equal(await page.getByRole('navigation', { name: 'QuFirewall' }).isVisible(), false, 'choosing a page folds it again');
  });
});
