// Issue 11, "words" and exports: the panel in Chromium (time zone Asia/Kolkata, +05:30, so an offset shows)
// against the real daemon. Who acted reads the same in the list, the details and the log; durations are for
// people; the revoke reason is in the row's details; files carry local times with their offset and a BOM.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ADMIN_SID, launchBrowser, openPage, panelReady, RealPanel, startRealPanel } from './support';
import type { Device } from '../../module/engine/contract';

const LABEL = 'Zoë’s tablet — 東京';
const IST = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30$/;

/** The local time of `ms` in India (UTC+05:30, no daylight saving), as ISO 8601 with the offset. */
function ist(ms: number): string {
  return `${new Date(ms + 5.5 * 3600_000).toISOString().slice(0, 19)}+05:30`;
}

describe('panel: words and exports (real daemon)', function () {
  this.timeout(90_000);
  let browser: Browser;
  let rp: RealPanel;
  let ctx: BrowserContext | null = null;
  let page: Page;

  before(async () => {
    browser = await launchBrowser();
    rp = await startRealPanel('pw');
    assert.equal((await rp.daemon.sipa('register', '203.0.113.7', '--for', '2h', '--label', LABEL)).code, 0);
    assert.equal((await rp.daemon.sipa('register', '203.0.113.8', '--for', '90m', '--label', 'desk')).code, 0);
    const o = await openPage(browser, rp.url, ADMIN_SID, { timezoneId: 'Asia/Kolkata' });
    ctx = o.ctx;
    page = o.page;
    await panelReady(page);
  });
  after(async () => {
    await ctx?.close();
    await browser?.close();
    await rp?.stop();
  });

  it('the actor reads the same in the list, the details and the log; durations read "2 h"; the reason is in the details', async () => {
    const row = page.locator('tr', { has: page.getByRole('rowheader', { name: '203.0.113.7' }) });
    assert.match(await row.innerText(), /for 2 h/);
    await row.getByRole('button', { name: 'Revoke Request for 203.0.113.7' }).click();
    const dlg = page.getByRole('alertdialog', { name: 'Revoke Request' });
    await dlg.getByLabel('Reason').fill('lost phone');
    await dlg.getByRole('button', { name: 'Revoke Request' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByLabel('Show').selectOption('ended');
    await row.getByText('Revoked', { exact: true }).waitFor();
    assert.match(await row.innerText(), /\d\d:\d\d by admin \(panel\)/);
    assert.doesNotMatch(await row.innerText(), /panel:admin|lost phone/);
    await row.getByRole('button', { name: 'Details for 203.0.113.7' }).click();
    const details = page.locator('.details');
    assert.match(await details.innerText(), /Revoked\s+\S+ \S+ by admin \(panel\)/);
    assert.match(await details.innerText(), /Reason\s+lost phone/);

    await page.getByRole('tab', { name: 'Audit log' }).click();
    const log = page.getByRole('table', { name: 'Audit log' });
    const revoke = log.locator('tr', { hasText: 'revoked' }).first();
    await revoke.waitFor();
    assert.match(await revoke.innerText(), /admin \(panel\)/, 'the same form as in the list');
    const registered = log.locator('tr', { has: page.getByRole('cell', { name: '203.0.113.8', exact: true }) }).first();
    assert.match(await registered.innerText(), /\(CLI\)\s+registered\s+203\.0\.113\.8\s+for 1 h 30 min/);
    assert.doesNotMatch(await log.innerText(), /fixed \d+s|\d+s\b/);
    await page.getByRole('tab', { name: 'Trusted list' }).click();
  });

  it('exports: ISO 8601 local times with the offset, and a UTF-8 byte-order mark on CSV', async () => {
    // Every row, ended ones too (a panel without the Show filter shows them all anyway).
    if (await page.getByLabel('Show').count()) await page.getByLabel('Show').selectOption('all');
    const all = await rp.daemon.sipaJson<Device[]>('list', '--all');
    const d7 = all.find(d => d.address === '203.0.113.7')!;
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('tabpanel').getByRole('button', { name: 'Export CSV' }).click()]);
    const bytes = fs.readFileSync(await csv.path());
    assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf], 'UTF-8 BOM');
    const text = bytes.toString('utf8').slice(1);
    const [header, ...lines] = text.trim().split('\r\n');
    const cols = header.split(',');
    const row7 = lines.find(l => l.includes('203.0.113.7,'))!.split(',');
    assert.equal(row7[cols.indexOf('registeredAt')], ist(d7.registeredAt));
    assert.equal(row7[cols.indexOf('endedAt')], ist(d7.endedAt!));
    assert.match(row7[cols.indexOf('endedAt')], IST);
    assert.ok(text.includes(LABEL), 'the label survives as UTF-8');
    assert.equal(row7[cols.indexOf('endedBy')], 'admin (panel)');

    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('tabpanel').getByRole('button', { name: 'Export JSON' }).click()]);
    const parsed = JSON.parse(fs.readFileSync(await json.path(), 'utf8')) as { exportedAt: string; devices: Array<{ address: string; registeredAt: string }> };
    assert.match(parsed.exportedAt, IST);
    assert.equal(parsed.devices.find(x => x.address === '203.0.113.7')?.registeredAt, ist(d7.registeredAt));

    await page.getByRole('tab', { name: 'Audit log' }).click();
    const [log] = await Promise.all([page.waitForEvent('download'), page.getByRole('tabpanel').getByRole('button', { name: 'Export CSV' }).click()]);
    const logBytes = fs.readFileSync(await log.path());
    assert.deepEqual([...logBytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    const logLines = logBytes.toString('utf8').slice(1).trim().split('\r\n');
    assert.equal(logLines[0], 'id,at,who,action,deviceId,address,detail');
    for (const l of logLines.slice(1)) assert.match(l.split(',')[1], IST);
  });
});
