// Issue 16 end to end: a dual-stack remote device (203.0.113.10 and 2001:db8:2::10) opens the dev portal's page
// over IPv6 in a real browser running inside the remote namespace; the page calls the portal's IPv4-only and
// IPv6-only endpoints and registers both addresses the portal saw, as one device. The real daemon enforces in
// the NAS namespace. Then the device's IPv6 address changes: with policy.ipv6Scope "address" the page's renewal
// from the new address adds it (add-address, the expiry unchanged); with "network" the /64 already covers it.
// A revoke cuts every address's flows.
import assert from 'node:assert/strict';
import { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, Browser, Page } from 'playwright-core';
import { buildStage, OWNER, Stage } from '../../scripts/lib/stage';
import { startPortalDevice } from '../../scripts/lib/device';
import type { PortalDevice as PortalRecord } from '../../scripts/dev-portal/state';
import { holdConnection, HeldConnection, inNs, startServer, tryConnect } from '../../scripts/lib/netns';
import type { AuditEntry, Device, Status } from '../../module/engine/contract';
import { sleep, until } from '../../scripts/lib/wait';
import { CHROMIUM_ARGS } from '../panel/support';

const ECHO = 8081;
const V4 = '203.0.113.10';
const V6 = '2001:db8:2::10';
const ELSEWHERE = '2001:db8:6::77'; // a new temporary address on another network (another /64)
const SAME_64 = '2001:db8:2::99'; // a new temporary address in the same /64

describe('e2e: a dual-stack device registers through the portal page and keeps access as its IPv6 address changes (issue 16)', function () {
  this.timeout(120_000);
  let stage: Stage;
  let echo: ChildProcess;
  let browser: Browser;
  let wrapDir: string;
  const held: HeldConnection[] = [];

  const list = (all = false) => stage.daemon.sipaJson<Device[]>('list', ...(all ? ['--all'] : []));
  const audit = () => stage.daemon.sipaJson<AuditEntry[]>('audit', '--limit', '200');
  const to = (family: 4 | 6, from: string) => tryConnect(stage.net.remote, stage.net.nasAddr[family], ECHO, { from });
  const allowSet = (family: 4 | 6) => inNs(stage.net.nas, 'ipset', ['list', `sipa${family}_allow`]);
  const hold = (family: 4 | 6, from: string) => {
    const h = holdConnection(stage.net.remote, stage.net.nasAddr[family], ECHO, from);
    held.push(h);
    return h;
  };
  /** The remote's addresses as the kernel ranks them for new connections: a deprecated one is not chosen. */
  const preferred = (addr: string, yes: boolean) => inNs(stage.net.remote, 'ip', ['-6', 'addr', 'change', `${addr}/64`, 'dev', 'wan0', 'preferred_lft', yes ? 'forever' : '0']);

  async function linked(): Promise<void> {
    await until('the daemon is linked to the portal', async () => (await stage.daemon.sipaJson<Status>('status')).portal.connected, 20_000, 100);
  }

  /** What a person does on the phone: sign in over IPv6, open the NAS's page, register for this session. */
  async function registerThroughPage(label: string): Promise<Page> {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${stage.portalPublicUrl6}/`);
    await page.fill('input[name=qnapId]', OWNER.qnapId);
    await page.fill('input[name=password]', OWNER.password);
    await Promise.all([page.waitForURL(`${stage.portalPublicUrl6}/`), page.click('button:has-text("Sign in")')]);
    await page.goto(`${stage.portalPublicUrl6}/nas/${stage.nasId}`);
    assert.equal(await page.locator('p', { hasText: 'This device connects from' }).textContent(), `This device connects from ${V6}.`, 'the page came over IPv6');
    await page.waitForSelector('#families[data-checked="1"]');
    assert.equal(await page.textContent('#seen4'), V4, 'the IPv4-only endpoint saw the device\'s IPv4 address');
    assert.equal(await page.textContent('#seen6'), V6);
    await page.fill('input[name=label]', label);
    await page.selectOption('select[name=expiry]', 'session');
    await Promise.all([page.waitForURL(/flash=/), page.click('#register')]);
    assert.equal(await page.textContent('.flash'), `Registered ${V6} and ${V4}`);
    await page.waitForSelector('#families[data-checked="1"]');
    return page;
  }

  /** The page calls both endpoints again, as on a network change. */
  async function renew(page: Page): Promise<void> {
    const before = Number(await page.getAttribute('#families', 'data-checked'));
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await page.waitForSelector(`#families[data-checked="${before + 1}"]`);
  }

  before(async function () {
    this.timeout(90_000);
    stage = await buildStage({
      tag: 'dual',
      // no lease renewal during a test: an expiry that moved was moved by add-address
      leaseSeconds: 900, leaseRenewSeconds: 3600, pageRenewSeconds: 3600,
      daemonConfig: { policy: { minSeconds: 1, ipv6Scope: 'address' } },
    });
    assert.equal((await stage.daemon.sipa('enable')).code, 0);
    echo = await startServer(stage.net.nas, [ECHO]);
    stage.net.addRemoteAddress(ELSEWHERE);
    stage.net.addRemoteAddress(SAME_64);
    for (const a of [ELSEWHERE, SAME_64]) preferred(a, false);
    wrapDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-dual-browser-'));
    const wrapper = path.join(wrapDir, 'chromium-in-remote');
    // The browser runs inside the remote namespace: its connections leave from the device's own addresses.
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${stage.net.remote} /usr/bin/chromium "$@"\n`, { mode: 0o755 });
    browser = await chromium.launch({ executablePath: wrapper, headless: true, args: CHROMIUM_ARGS, timeout: 30_000 });
    await linked();
  });

  after(async function () {
    this.timeout(30_000);
    for (const h of held) h.stop();
    await browser?.close();
    if (wrapDir) fs.rmSync(wrapDir, { recursive: true, force: true });
    echo?.kill();
    await stage?.close();
  });

  afterEach(async () => {
    for (const h of held.splice(0)) h.stop();
    for (const d of await stage.owner.devices(stage.nasId)) await stage.owner.revoke(stage.nasId, d.ref, 'test cleanup').catch(() => undefined);
    await until('nothing registered', async () => (await list()).length === 0, 10_000, 100);
  });

  it('/128 scope: registered over IPv6 with both families, reached over IPv4 and IPv6; a new address gets in once the page renews from it, the expiry unchanged; a revoke cuts every address', async () => {
    assert.equal(await to(4, V4), 'timeout', 'unregistered, the device is dropped over IPv4');
    assert.equal(await to(6, V6), 'timeout', 'and over IPv6');
    const page = await registerThroughPage('phone');

    const [device] = await until('the NAS lists one device with both addresses', async () => {
      const l = await list();
      return l.length === 1 && l[0].addresses.length === 2 ? l : null;
    }, 5000, 50);
    assert.deepEqual([device.source, device.qnapId, device.policy, device.label], ['portal', OWNER.qnapId, 'session', 'phone']);
    assert.deepEqual(device.addresses, [V6, V4]);
    assert.equal(await to(4, V4), 'connected', 'registered through the portal over IPv6, it gets in over IPv4');
    assert.equal(await to(6, V6), 'connected');

    // A new temporary address on another network: the old one deprecated, new connections leave from the new.
    preferred(ELSEWHERE, true);
    preferred(V6, false);
    assert.equal(await to(6, ELSEWHERE), 'timeout', 'the /128 scope does not let the new address in by itself');
    const lastAudit = Math.max(...(await audit()).map(a => a.id));
    await renew(page);
    assert.equal(await page.textContent('#seen6'), `${ELSEWHERE} (added to this device)`);
    const after = await until('the NAS added the new address', async () => (await list()).find(d => d.addresses.includes(ELSEWHERE)), 5000, 50);
    assert.equal(after.id, device.id, 'the same device');
    assert.deepEqual(after.addresses, [V6, V4, ELSEWHERE]);
    assert.equal(after.expiresAt, device.expiresAt, 'the expiry did not move');
    const rows = (await audit()).filter(a => a.id > lastAudit);
    assert.deepEqual(rows.map(a => [a.action, a.surface, a.actor]), [['add-address', 'portal', OWNER.qnapId]]);
    assert.match(rows[0].detail, new RegExp(`${ELSEWHERE}; expiry unchanged`));
    const m = new RegExp(`^${ELSEWHERE} timeout (\\d+)`, 'm').exec(allowSet(6));
    assert.ok(m, `the kernel allows ${ELSEWHERE}:\n${allowSet(6)}`);
    assert.ok(Number(m[1]) * 1000 <= (device.expiresAt as number) - Date.now() + 2000, `the new entry (${m[1]} s) does not outlive the registration`);
    assert.equal(await to(6, ELSEWHERE), 'connected');
    const onPortal = (await stage.owner.devices(stage.nasId)).map(d => d.addresses);
    assert.deepEqual(onPortal, [[V6, V4, ELSEWHERE]], 'the portal lists the device with its three addresses');

    const flows = [hold(4, V4), hold(6, V6), hold(6, ELSEWHERE)];
    assert.deepEqual(await Promise.all(flows.map(h => h.connected)), [true, true, true]);
    const [ref] = (await stage.owner.devices(stage.nasId)).map(d => d.ref);
    await stage.owner.revoke(stage.nasId, ref, 'phone lost');
    const cut = await Promise.race([Promise.all(flows.map(h => h.dead)), sleep(5000).then(() => null)]);
    assert.ok(cut, `a connection of the revoked device survived:\n${inNs(stage.net.nas, 'conntrack', ['-L'])}`);
    assert.deepEqual(await Promise.all([to(4, V4), to(6, V6), to(6, ELSEWHERE)]), ['timeout', 'timeout', 'timeout']);
    assert.equal((await list(true)).find(d => d.id === device.id)?.state, 'revoked');
    preferred(ELSEWHERE, false);
    preferred(V6, true);
    await page.context().close();
  });

  it('registered with both families while the NAS is away: after the resync the NAS has the device with both, with its expiry', async () => {
    await stage.daemon.stop();
    const phone = startPortalDevice(stage.net.remote, stage.portalPublicUrl);
    try {
      await phone.call({ op: 'signin', ...OWNER });
      const r = await phone.call<{ device: PortalRecord; sent: boolean }>({ op: 'register-seen', nasId: stage.nasId, expiry: 600, label: 'tablet' });
      assert.equal(r.sent, false, 'the NAS is away');
      assert.deepEqual(r.device.addresses, [V4, V6]);
      await stage.daemon.start();
      await linked();
      const device = await until('the NAS has the device with both addresses', async () => (await list()).find(d => d.addresses.length === 2), 10_000, 100);
      assert.deepEqual(device.addresses, [V4, V6]);
      assert.equal((await list()).length, 1, 'one device');
      assert.ok(Math.abs((device.expiresAt as number) - (r.device.expiresAt as number)) < 5000, 'with the expiry the portal gave it');
      assert.equal(await to(6, V6), 'connected');
      const onPortal = await until('the portal has the NAS id', async () => (await stage.owner.devices(stage.nasId)).find(d => d.deviceId !== null), 5000, 50);
      assert.deepEqual([onPortal.ref, onPortal.deviceId, onPortal.state], [r.device.ref, device.id, 'active']);
    } finally {
      phone.close();
    }
  });

  it('/64 scope: a new temporary address in the same /64 gets in at once; a revoke cuts IPv4 and both IPv6 addresses', async () => {
    await stage.daemon.stop();
    (stage.daemon.config.policy as Record<string, unknown>).ipv6Scope = 'network';
    fs.writeFileSync(stage.daemon.configPath, JSON.stringify(stage.daemon.config, null, 2));
    await stage.daemon.start();
    await linked();
    assert.equal((await stage.daemon.sipaJson<Status>('status')).ipv6Scope, 'network');

    const page = await registerThroughPage('laptop');
    const [device] = await until('the NAS lists the device', async () => {
      const l = await list();
      return l.length === 1 ? l : null;
    }, 5000, 50);
    assert.deepEqual(device.addresses, [V6, V4]);
    assert.match(allowSet(6), /^2001:db8:2::\/64 timeout/m, 'the kernel allows the device\'s /64');
    assert.equal(await to(4, V4), 'connected');

    preferred(SAME_64, true);
    preferred(V6, false);
    assert.equal(await to(6, SAME_64), 'connected', 'the rotated address gets in before any renewal');
    assert.equal(await to(6, ELSEWHERE), 'timeout', 'another network does not');
    await renew(page);
    const after = await until('the portal added the rotated address too', async () => (await list()).find(d => d.addresses.includes(SAME_64)), 5000, 50);
    assert.equal(after.expiresAt, device.expiresAt, 'the expiry did not move');

    const flows = [hold(4, V4), hold(6, V6), hold(6, SAME_64)];
    assert.deepEqual(await Promise.all(flows.map(h => h.connected)), [true, true, true]);
    const rev = await stage.daemon.sipa('revoke', V4, '--reason', 'laptop stolen');
    assert.equal(rev.code, 0, rev.stderr);
    const cut = await Promise.race([Promise.all(flows.map(h => h.dead)), sleep(5000).then(() => null)]);
    assert.ok(cut, `a connection of the revoked device survived:\n${inNs(stage.net.nas, 'conntrack', ['-L'])}`);
    assert.deepEqual(await Promise.all([to(4, V4), to(6, V6), to(6, SAME_64)]), ['timeout', 'timeout', 'timeout']);
    const ended = await until('the portal shows it ended', async () => (await stage.owner.devices(stage.nasId, true)).find(d => d.deviceId === device.id && d.state === 'revoked'), 5000, 50);
    assert.match(ended.note ?? '', /laptop stolen/);
    preferred(SAME_64, false);
    preferred(V6, true);
    await page.context().close();
  });
});
