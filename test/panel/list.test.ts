// Issue 11, "a real list": the panel in Chromium against the real daemon holding 1,000 devices. Only a page is
// drawn, live events change it without fetching the list again, search waits for a pause in typing, the
// default view is the active devices, one address is one row with its history, and the audit log pages
// through every entry, filtered by the daemon.
import assert from 'node:assert/strict';
import { adminApi, ADMIN_SID, contextFor, panelReady, realPanelSuite, shotPath } from './support';
import type { AuditEntry } from '../../module/engine/contract';

const N = 1000;
const addr = (i: number) => `2001:db8:7::${(i + 1).toString(16)}`;

describe('panel: a real list (real daemon, 1,000 devices)', function () {
  this.timeout(120_000);
  const panel = realPanelSuite('pl', { config: { policy: { minSeconds: 1, ipv6Scope: 'address' } } });
  let api: Awaited<ReturnType<typeof adminApi>>;

  before(async () => {
    api = await adminApi(panel.rp.url);
    const devices = Array.from({ length: N }, (_, i) => ({ address: addr(i), label: `device ${String(i).padStart(4, '0')}`, expiry: { policy: 'fixed', seconds: 3600 + i } }));
    const r = await api.post('devices/batch', { devices });
    assert.equal(r.status, 201, r.text);
  });

  const open = () => panel.open();

  it('draws the first page from the daemon before the whole list arrives; the rest follows without moving a row', async () => {
    panel.ctx = await contextFor(panel.browser, panel.rp.url, ADMIN_SID, 'admin');
    let release: () => void = () => {};
    const held = new Promise<void>(r => (release = r));
    // The whole list (3 MB at 10,000 devices) is held back: what shows until then comes from the first page.
    await panel.ctx.route(/\/api\/v1\/devices\?all=1$/, async route => { await held; await route.continue(); });
    const page = await panel.ctx.newPage();
    page.on('pageerror', e => { throw e; });
    await page.goto(panel.rp.url);
    const rows = page.getByRole('table', { name: 'Trusted list' }).locator('tbody tr');
    await rows.first().waitFor();
    assert.equal(await rows.count(), 50, 'the first page: 50 rows');
    await page.getByText(`1–50 of ${N}`).waitFor();
    await page.getByText(`${N} active devices`).waitFor();
    const early = await rows.locator('th').allInnerTexts();
    assert.equal(early[0].trim(), addr(0), 'the soonest end first, as in the whole list');
    const search = page.getByRole('searchbox', { name: 'Search the trusted list' });
    await search.fill('device 0999');
    await page.getByText('Loading the whole list…').waitFor();
    await search.fill('');
    await page.getByText(`1–50 of ${N}`).waitFor();
    release();
    await panelReady(page);
    assert.deepEqual(await rows.locator('th').allInnerTexts(), early, 'the same rows in the same order');
    await search.fill('device 0999');
    await page.getByText('1 shown', { exact: false }).waitFor();
    assert.equal(await rows.count(), 1);
  });

  it('draws one page of rows, applies live events without fetching the list again, and searches after a pause', async () => {
    const page = await open();
    let listFetches = 0;
    page.on('request', r => { if (/\/api\/v1\/devices(\?|$)/.test(r.url()) && r.method() === 'GET') listFetches++; });
    const rows = page.getByRole('table', { name: 'Trusted list' }).locator('tbody tr');
    assert.equal(await rows.count(), 50, 'one page of 50 rows');
    await page.getByText(`1–50 of ${N}`).waitFor();
    const elements = await page.evaluate(() => document.querySelector('sipa-panel')!.shadowRoot!.querySelectorAll('*').length);
    assert.ok(elements < 1500, `${elements} elements in the panel (a row per device would be ~16,000)`);

    for (let i = 0; i < 10; i++) {
      const r = await api.post('devices', { address: `203.0.113.${100 + i}`, label: `live ${i}`, expiry: { policy: 'fixed', seconds: 120 } });
      assert.equal(r.status, 201, r.text);
    }
    await page.getByText(`${N + 10} shown · ${N + 10} active`).waitFor();
    // Ending soonest first: the new 2-minute registrations lead the list.
    assert.equal(await rows.first().getByRole('rowheader').innerText(), '203.0.113.100');
    assert.equal(listFetches, 0, 'live events are applied one by one, the list is not fetched again');

    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByText(`51–100 of ${N + 10}`).waitFor();
    const search = page.getByRole('searchbox', { name: 'Search the trusted list' });
    await search.pressSequentially('device 0999', { delay: 20 });
    await page.getByText('1–1 of 1').waitFor();
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getByRole('rowheader').innerText(), addr(999));
    await search.fill('');
    await page.getByText(`1–50 of ${N + 10}`).waitFor();
    await page.screenshot({ path: shotPath('list-01-paged') });
  });

  it('shows active devices by default, ended ones as a filter, and one address as one device with its history', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await api.post('devices', { address: '198.51.100.5', label: `tablet, round ${i + 1}`, expiry: { policy: 'fixed', seconds: 600 } })).status, 201);
      if (i < 2) assert.equal((await api.post(`devices/${encodeURIComponent('198.51.100.5')}/revoke`, { reason: `round ${i + 1} over` })).status, 200);
    }
    const page = await open();
    const search = page.getByRole('searchbox', { name: 'Search the trusted list' });
    await search.fill('198.51.100.5');
    const rows = page.getByRole('table', { name: 'Trusted list' }).locator('tbody tr');
    await page.getByText('1–1 of 1').waitFor();
    assert.equal(await page.getByLabel('Show').inputValue(), 'active', 'active devices by default');
    await page.getByLabel('Show').selectOption('all');
    await page.getByText('1–1 of 1').waitFor();
    assert.equal(await rows.count(), 1, 'three registrations of one address are one row');
    await page.getByRole('button', { name: 'Details for 198.51.100.5' }).click();
    const details = page.locator('.details');
    await details.getByText('Earlier registrations of 198.51.100.5 (2)').waitFor();
    assert.match(await details.innerText(), /revoked .* by admin \(panel\): round 2 over/);
    assert.match(await details.innerText(), /round 1 over/);

    await page.getByLabel('Show').selectOption('active');
    await page.getByRole('button', { name: 'Revoke Request for 198.51.100.5' }).click();
    await page.getByRole('alertdialog', { name: 'Revoke Request' }).getByRole('button', { name: 'Revoke Request' }).click();
    await page.getByText('No device matches.').waitFor();
    await page.getByLabel('Show').selectOption('ended');
    await page.getByText('1–1 of 1').waitFor();
    assert.equal(await rows.first().getByRole('rowheader').innerText(), '198.51.100.5');
    assert.match(await rows.first().innerText(), /Revoked/);
  });

  it('the audit log pages through every entry and is filtered by the daemon', async () => {
    // 600 more entries: a register and a revoke each.
    for (let i = 0; i < 300; i++) {
      const a = `198.51.100.${(i % 200) + 20}`;
      assert.equal((await api.post('devices', { address: a, expiry: { policy: 'fixed', seconds: 600 } })).status, 201);
      assert.equal((await api.post(`devices/${encodeURIComponent(a)}/revoke`, {})).status, 200);
    }
    const total = (await api.get('audit?limit=1000')).json.entries.length as number;
    assert.ok(total > 600, `${total} entries`);
    const page = await open();
    const auditUrls: string[] = [];
    page.on('request', r => { if (r.url().includes('/api/v1/audit')) auditUrls.push(r.url()); });
    await page.getByRole('tab', { name: 'Audit log' }).click();
    await page.getByText('Entries 1–100, newest first').waitFor();
    const older = page.getByRole('button', { name: 'Older entries' });
    let pages = 1;
    while (await older.isEnabled()) {
      await older.click();
      pages++;
      await page.getByText(new RegExp(`^Entries ${(pages - 1) * 100 + 1}–`)).waitFor();
    }
    await page.getByText(`Entries ${(pages - 1) * 100 + 1}–${total}, newest first (the oldest kept)`).waitFor();
    assert.equal(pages, Math.ceil(total / 100), 'every entry is reachable');
    const oldest = (await api.get('audit?limit=1000')).json.entries.at(-1) as AuditEntry;
    assert.ok((await page.getByRole('table', { name: 'Audit log' }).locator('tbody tr').last().innerText()).includes(oldest.detail), 'the last page ends with the oldest entry');

    await page.getByRole('button', { name: 'Newer entries' }).click();
    await page.getByText(new RegExp(`^Entries ${(pages - 2) * 100 + 1}–`)).waitFor();
    await page.getByRole('searchbox', { name: 'Filter the audit log' }).fill('198.51.100.27');
    await page.getByText(/^Entries 1–\d+, newest first \(the oldest kept\)$/).waitFor();
    const shown = await page.getByRole('table', { name: 'Audit log' }).locator('tbody tr').allInnerTexts();
    assert.ok(shown.length >= 2 && shown.every(t => t.includes('198.51.100.27')), shown.join('\n'));
    assert.ok(auditUrls.some(u => new URL(u).searchParams.get('q') === '198.51.100.27'), 'the daemon filters');
    assert.ok(auditUrls.some(u => new URL(u).searchParams.has('before')), 'pages continue after an id');
  });
});
