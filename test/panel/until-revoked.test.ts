// Issue 11, "until revoked where the policy allows": the panel in Chromium against the real daemon. "Register a
// device" offers "Until revoked" only while the daemon's policy (Status.allowUntilRevoked) allows it; such a
// device shows "until revoked" in the list, its details and the exports, and has nothing to extend; a refusal
// (the policy was turned off meanwhile) shows the daemon's sentence at the field.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { Page } from 'playwright-core';
import { realPanelSuite, shotPath } from './support';
import { until } from '../../scripts/lib/wait';
import type { Device, Status } from '../../module/engine/contract';

describe('panel: registering until revoked (real daemon)', function () {
  this.timeout(90_000);
  const panel = realPanelSuite('pu');

  /** Rewrites the daemon's policy and reloads its config (SIGHUP), as an admin editing the config would. */
  async function setPolicy(allowUntilRevoked: boolean): Promise<void> {
    panel.rp.daemon.config.policy = { minSeconds: 1, allowUntilRevoked };
    fs.writeFileSync(panel.rp.daemon.configPath, JSON.stringify(panel.rp.daemon.config, null, 2));
    panel.rp.daemon.process!.kill('SIGHUP');
    await until(`policy.allowUntilRevoked ${allowUntilRevoked}`, async () => (await panel.rp.daemon.sipaJson<Status>('status')).allowUntilRevoked === allowUntilRevoked, 5000, 50);
  }

  const open = () => panel.open();
  const row = (page: Page, addr: string) => page.locator('tr', { has: page.getByRole('rowheader', { name: addr, exact: false }) });
  const periods = (page: Page) => page.getByRole('dialog', { name: 'Register a device' }).getByLabel('For', { exact: true }).locator('option').allTextContents();


  it('offers "Until revoked" only where the policy allows it; such a device reads "until revoked" on screen and in the exports', async () => {
    let page = await open();
    await page.getByRole('button', { name: 'Register a device' }).click();
    const offered = await periods(page);
    assert.equal(offered[0], '1 minute');
    assert.ok(offered.includes('12 hours'));
    assert.equal(offered.includes('Until revoked'), false, 'not offered under the default policy');
    await page.keyboard.press('Escape');
    await panel.ctx!.close();

    await setPolicy(true);
    page = await open();
    await page.getByRole('button', { name: 'Register a device' }).click();
    assert.ok((await periods(page)).includes('Until revoked'));
    const dlg = page.getByRole('dialog', { name: 'Register a device' });
    await dlg.getByLabel('Address', { exact: true }).fill('203.0.113.70');
    await dlg.getByLabel('Label').fill('office printer');
    await dlg.getByLabel('For', { exact: true }).selectOption({ label: 'Until revoked' });
    await dlg.getByRole('button', { name: 'Register' }).click();
    await dlg.waitFor({ state: 'detached' });

    const d = (await panel.rp.daemon.sipaJson<Device[]>('list')).find(x => x.address === '203.0.113.70')!;
    assert.deepEqual([d.policy, d.expiresAt, d.label, d.source], ['until-revoked', null, 'office printer', 'local']);
    const r = row(page, '203.0.113.70');
    await r.getByText('Active', { exact: true }).waitFor();
    const cells = await r.getByRole('cell').allInnerTexts();
    assert.equal(cells.filter(c => c.trim() === 'until revoked').length, 2, `Term and Remaining: ${JSON.stringify(cells)}`);
    assert.equal(await r.getByRole('timer').count(), 0, 'no countdown');
    assert.equal(await r.getByRole('button', { name: 'Extend 203.0.113.70' }).count(), 0, 'nothing to extend');
    await r.getByRole('button', { name: 'Details for 203.0.113.70' }).click();
    await page.getByText('only when an administrator revokes it', { exact: true }).waitFor();
    await page.screenshot({ path: shotPath('until-revoked-01-row') });

    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByRole('tabpanel').getByRole('button', { name: 'Export CSV' }).click()]);
    const [header, ...lines] = fs.readFileSync(await csv.path(), 'utf8').slice(1).trim().split('\r\n');
    const cols = header.split(',');
    const line = lines.find(l => l.includes('203.0.113.70,'))!.split(',');
    assert.deepEqual([line[cols.indexOf('term')], line[cols.indexOf('endsAt')], line[cols.indexOf('state')]], ['until revoked', '', 'Active']);
    const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('tabpanel').getByRole('button', { name: 'Export JSON' }).click()]);
    const exported = (JSON.parse(fs.readFileSync(await json.path(), 'utf8')) as { devices: Device[] }).devices.find(x => x.address === '203.0.113.70')!;
    assert.deepEqual([exported.policy, exported.expiresAt], ['until-revoked', null]);

    // Revoked from the panel like any other.
    await r.getByRole('button', { name: 'Revoke Request for 203.0.113.70' }).click();
    await page.getByRole('alertdialog', { name: 'Revoke Request' }).getByRole('button', { name: 'Revoke Request' }).click();
    await until('revoked', async () => (await panel.rp.daemon.sipaJson<Device[]>('list', '--all')).find(x => x.id === d.id)?.state === 'revoked', 5000, 50);
  });

  it('a registration until revoked that the daemon no longer allows is refused at the field, in the daemon\'s words', async () => {
    await setPolicy(true);
    const page = await open();
    await page.getByRole('button', { name: 'Register a device' }).click();
    const dlg = page.getByRole('dialog', { name: 'Register a device' });
    await dlg.getByLabel('Address', { exact: true }).fill('203.0.113.71');
    await dlg.getByLabel('For', { exact: true }).selectOption({ label: 'Until revoked' });
    await setPolicy(false);
    await dlg.getByRole('button', { name: 'Register' }).click();
    const refusal = (await panel.rp.daemon.sipa('register', '203.0.113.71', '--until-revoked')).stderr.trim().replace(/^sipa: /, '');
    assert.match(refusal, /policy\.allowUntilRevoked is false/);
    await dlg.getByText(refusal[0].toUpperCase() + refusal.slice(1) + '.', { exact: true }).waitFor();
    assert.equal(await dlg.getByLabel('For', { exact: true }).getAttribute('aria-invalid'), 'true', 'shown at the period it is about');
    assert.equal((await panel.rp.daemon.sipaJson<Device[]>('list')).some(x => x.address === '203.0.113.71'), false);
  });
});
