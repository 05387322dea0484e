// The panel against the real daemon enforcing in a test namespace: what the admin does in the browser is what
// the kernel does. The CLI registers a device; the panel shows it live; Revoke in the panel removes the kernel
// entry and cuts the device off.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import type { Browser, BrowserContext } from 'playwright-core';
import { inNs, makeTopology, startServer, Topology, tryConnect } from '../../scripts/lib/netns';
import { makeDaemon, TestDaemon } from '../../scripts/lib/daemon';
import { startFakeQts, FakeQts } from '../api/fake-qts';
import { buildPanel, contextFor, launchBrowser, PANEL_DIR, shotPath } from './support';

const SID = 'qts-admin-sid';

describe('panel: against the real daemon in a namespace', function () {
  this.timeout(60_000);
  let net: Topology;
  let web: ChildProcess;
  let qts: FakeQts;
  let d: TestDaemon;
  let browser: Browser;
  let ctx: BrowserContext | null = null;

  before(async () => {
    buildPanel();
    net = makeTopology('panel');
    web = await startServer(net.nas, [8080]);
    qts = await startFakeQts({ [SID]: { username: 'admin', isAdmin: true } });
    d = makeDaemon(net.nas, {
      api: { http: { enabled: true, host: '127.0.0.1', port: 0 }, qtsAuthUrl: qts.url, allowedHosts: ['127.0.0.1'], panelDir: PANEL_DIR },
    });
    await d.start();
    browser = await launchBrowser();
  });
  after(async () => {
    await ctx?.close();
    await browser?.close();
    await d?.sipa('disable');
    await d?.destroy();
    await qts?.stop();
    web?.kill();
    net?.destroy();
  });

  it('enable in the panel → a device registered with `sipa` appears live → Revoke → kernel entry gone, device cut', async () => {
    const ready = d.log.find(l => l.includes('"daemon ready"'));
    const url = `${JSON.parse(ready!).http}/`;
    ctx = await contextFor(browser, url, SID, 'admin');
    const page = await ctx.newPage();
    page.on('pageerror', e => { throw e; });
    await page.goto(url);
    const sw = page.getByRole('switch', { name: 'Secure IP Access' });
    await sw.and(page.locator(':enabled')).waitFor();
    await sw.click();
    await page.getByRole('dialog', { name: 'Enable Secure IP Access' }).getByRole('button', { name: 'Enable Secure IP Access' }).click();
    await page.locator('[role="switch"][aria-checked="true"]').waitFor();
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], 8080), 'timeout', 'the kernel enforces once the switch is on');

    const reg = await d.sipa('register', net.remoteAddr[4], '--for', '1h', '--label', 'laptop');
    assert.equal(reg.code, 0, reg.stderr);
    const row = page.locator('tr', { has: page.getByRole('rowheader', { name: net.remoteAddr[4] }) });
    await row.getByText('Active').waitFor({ timeout: 5000 });
    const timer = row.getByRole('timer');
    const t1 = await timer.innerText();
    await page.waitForTimeout(2100);
    assert.notEqual(await timer.innerText(), t1, 'the countdown falls');
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], 8080), 'connected');
    await page.screenshot({ path: shotPath('daemon-01-live') });

    await row.getByRole('button', { name: `Revoke Request for ${net.remoteAddr[4]}` }).click();
    const confirm = page.getByRole('alertdialog', { name: 'Revoke Request' });
    await confirm.getByRole('button', { name: 'Revoke Request' }).click();
    await row.waitFor({ state: 'detached' });
    await page.getByLabel('Show').selectOption('ended');
    await row.getByText('Revoked', { exact: true }).waitFor();
    assert.doesNotMatch(inNs(net.nas, 'ipset', ['list', 'sipa4_allow']), /203\.0\.113\.10/, 'the kernel entry is gone');
    assert.equal(await tryConnect(net.remote, net.nasAddr[4], 8080), 'timeout');
    const audit = JSON.parse((await d.sipa('audit', '--json')).stdout) as Array<{ action: string; surface: string; actor: string }>;
    assert.deepEqual([audit[0].action, audit[0].surface, audit[0].actor], ['revoke', 'panel', 'admin']);
    await page.screenshot({ path: shotPath('daemon-02-revoked') });
  });
});
