import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sinon from 'sinon';
import { PortalLink } from '../../module/cloud';
import type { Engine } from '../../module/engine';
import type { Store } from '../../module/store';
import { DevPortalClient, startDevPortal, type DevPortal } from '../../scripts/dev-portal';
import { testEngine, type TestEngine } from '../support/test-engine';
import { portalConfig, quietLog, sleep, until } from './helpers';

const ACCOUNT = { qnapId: 'owner@example.com', password: 'correct horse' };

describe('cloud/link against the dev portal (127.0.0.1)', function () {
  this.timeout(20000);
  let h: TestEngine;
  let dir: string;
  let store: Store;
  let engine: Engine;
  let portal: DevPortal;
  let link: PortalLink;
  let client: DevPortalClient;
  const config = portalConfig({ heartbeatSeconds: 0.5, reconnectMinSeconds: 0.05, reconnectMaxSeconds: 0.4, requestTimeoutSeconds: 2 });

  function newLink(over: Partial<typeof config> = {}): PortalLink {
    return new PortalLink({ engine, store, config: { ...config, ...over }, log: quietLog });
  }
  const active = () => engine.list();

  async function bound(): Promise<string> {
    await client.signIn(ACCOUNT.qnapId, ACCOUNT.password);
    const { code } = await client.pairingCode();
    const status = await link.bind({ portalUrl: portal.url, code: code.toLowerCase().replace(/^(....)/, '$1-') });
    assert.equal(status.bound, true);
    const nasId = status.nasId as string;
    await until('connected', () => link.status().connected && portal.connected(nasId));
    return nasId;
  }

  beforeEach(async () => {
    // A lease as short as 1 s is taken, so that one runs out within a test.
    h = await testEngine({ config: { policy: { minSeconds: 1 } } });
    ({ dir, store, engine } = h);
    portal = await startDevPortal({ host: '127.0.0.1', port: 0, accounts: [ACCOUNT], stateFile: path.join(dir, 'portal.json'), allowAddressOverride: true, leaseSeconds: 300, leaseRenewSeconds: 3600 });
    client = new DevPortalClient(portal.url);
    link = newLink();
    await link.start();
  });
  afterEach(async () => {
    await link.stop();
    await portal.stop();
    sinon.restore();
    await h.dispose();
  });

  it('runs standalone without a binding and says so', async () => {
    const s = link.status();
    assert.deepEqual([s.configured, s.bound, s.connected, s.portalUrl], [false, false, false, null]);
    assert.match(s.summary, /standalone/);
    await assert.rejects(link.unbind(), { code: 'not_bound' });
    await assert.rejects(link.bind({ code: 'ABCD2345' }), { code: 'no_portal_url' });
    await assert.rejects(link.bind({ portalUrl: 'http://198.51.100.1:1', code: 'ABCD2345' }), { code: 'bad_portal_url' });
  });

  it('binds with a pairing code, registers via the portal, revokes, and signs out → endSession', async () => {
    const nasId = await bound();
    assert.equal((await store.getSetting<{ nasId: string }>('portal.binding'))?.nasId, nasId);
    assert.equal((await store.listAudit()).find((a) => a.action === 'bind')?.surface, 'system');
    await assert.rejects(link.bind({ portalUrl: portal.url, code: 'ABCD2345' }), { code: 'already_bound' });

    const fixed = await client.register(nasId, { expiry: 600, label: 'laptop', address: '203.0.113.7' });
    assert.equal(fixed.sent, true);
    await until('register', async () => (await active()).length === 1);
    assert.deepEqual(h.calls.of('register')[0], [
      { address: '203.0.113.7', label: 'laptop', qnapId: ACCOUNT.qnapId, source: 'portal', expiry: { policy: 'fixed', seconds: 600 } },
      { surface: 'portal', name: ACCOUNT.qnapId },
    ]);
    const sess = await client.register(nasId, { expiry: 'session', address: '2001:db8::7' });
    await until('session register', async () => (await active()).length === 2);
    assert.deepEqual((h.calls.of('register')[1][0] as { expiry: unknown }).expiry, { policy: 'session', sessionId: client.sessionId, leaseSeconds: 300 + 120 });
    await until('device ids acked', async () => (await client.devices(nasId)).every((d) => d.deviceId !== null));

    await client.revoke(nasId, fixed.device.ref);
    await until('revoke', async () => (await active()).length === 1);
    assert.deepEqual(h.calls.of('revoke')[0].slice(0, 1), [1]);

    await client.signOut();
    await until('endSession', () => h.calls.of('endSession').length === 1);
    assert.equal(h.calls.of('endSession')[0][0], sess.device.sessionId);
    assert.equal((await active()).length, 0);
  });

  it('reports a local revocation and an expiry so the portal\'s list matches', async () => {
    await link.stop();
    link = newLink({ leaseGraceSeconds: 0 });
    await link.start();
    const nasId = await bound();
    await client.register(nasId, { expiry: 600, address: '203.0.113.8' });
    await client.register(nasId, { expiry: 'session', address: '203.0.113.9' });
    await until('registered', async () => (await active()).length === 2);
    const local = (await active()).find((d) => d.address === '203.0.113.8')!;
    await engine.revoke(local.id, { surface: 'panel', name: 'admin' }, 'lost phone');
    // The session's lease renewed for 1 s and not again: the NAS books the device as expired when it runs out.
    portal.sendCommand(nasId, 'lease-renew', { sessionId: client.sessionId!, leaseSeconds: 1 });
    await until('portal list', async () => (await client.devices(nasId)).length === 0);
    const all = await client.devices(nasId, true);
    assert.deepEqual(all.map((d) => d.state).sort(), ['expired', 'revoked']);
    assert.match(all.find((d) => d.state === 'revoked')?.note ?? '', /lost phone/);
    assert.equal((await engine.list({ all: true })).find((d) => d.address === '203.0.113.9')?.state, 'expired');
  });

  it('reconnects with backoff after the portal is killed, and the resync makes both sides agree', async () => {
    const nasId = await bound();
    const keep = await client.register(nasId, { expiry: 600, address: '203.0.113.10' });
    const drop = await client.register(nasId, { expiry: 600, address: '203.0.113.11' });
    await until('registered', async () => (await active()).length === 2);
    await until('acked', async () => (await client.devices(nasId)).every((d) => d.deviceId !== null));
    const port = portal.port;
    await portal.stop();
    await until('disconnected', () => !link.status().connected);
    assert.ok(link.status().lastError);
    // While away: the portal side revokes one and registers another (state file), a local admin revokes nothing.
    portal = await startDevPortal({ host: '127.0.0.1', port, accounts: [ACCOUNT], stateFile: path.join(dir, 'portal.json'), allowAddressOverride: true });
    client = new DevPortalClient(portal.url);
    // The link may reconnect at once; either way the end state must agree.
    await client.signIn(ACCOUNT.qnapId, ACCOUNT.password);
    await portal.stop();
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'portal.json'), 'utf8')) as { nases: Array<{ devices: Array<{ ref: string; state: string }> }> };
    state.nases[0].devices.find((d) => d.ref === drop.device.ref)!.state = 'revoked';
    fs.writeFileSync(path.join(dir, 'portal.json'), JSON.stringify(state));
    await sleep(300);
    portal = await startDevPortal({ host: '127.0.0.1', port, accounts: [ACCOUNT], stateFile: path.join(dir, 'portal.json'), allowAddressOverride: true });
    client = new DevPortalClient(portal.url);
    await until('reconnected', () => link.status().connected && portal.connected(nasId), 5000);
    await until('resync applied', async () => (await active()).length === 1);
    assert.equal((await active())[0].address, '203.0.113.10');
    await client.signIn(ACCOUNT.qnapId, ACCOUNT.password);
    assert.deepEqual((await client.devices(nasId)).map((d) => d.ref), [keep.device.ref]);
  });

  it('a NAS restart resumes with the stored binding and sequence: nothing lost, nothing applied twice', async () => {
    const nasId = await bound();
    const first = await client.register(nasId, { expiry: 600, address: '203.0.113.20' });
    await until('registered', async () => (await active()).length === 1);
    const seqBefore = await store.getPortalSequence(nasId);
    const lastEnvelope = portal.sendCommand(nasId, 'lease-renew', { sessionId: 'nobody', leaseSeconds: 300 });
    await portal.waitForAck(nasId, lastEnvelope!.seq as number);
    await link.stop();
    await until('portal sees it gone', () => !portal.connected(nasId));
    // Registered while the NAS was down: it arrives through the resync.
    await client.register(nasId, { expiry: 600, address: '203.0.113.21' });
    h.calls.forget();
    link = newLink();
    await link.start();
    await until('reconnected', () => link.status().connected);
    await until('both active', async () => (await active()).length === 2);
    assert.equal(h.calls.of('register').length, 1, 'only the missed registration was applied');
    assert.ok(((await store.getPortalSequence(nasId)) ?? 0) > (seqBefore ?? 0));
    // A replay of an envelope the NAS already took is refused and audited.
    const before = (await store.listAudit({ limit: 1000 })).length;
    portal.sendRaw(nasId, JSON.stringify(lastEnvelope));
    await until('refusal audited', async () => (await store.listAudit({ limit: 1000 })).length === before + 1);
    assert.match((await store.listAudit({ limit: 1 }))[0].detail, /^replayed: /);
    assert.equal(h.calls.of('renewSession').length, 0);
    assert.equal(first.device.address, '203.0.113.20');
  });

  it('unbind tells the portal, revokes portal devices and forgets the key', async () => {
    const nasId = await bound();
    await client.register(nasId, { expiry: 600, address: '203.0.113.30' });
    await engine.register({ address: '198.51.100.30', source: 'local', expiry: { policy: 'fixed', seconds: 600 } }, { surface: 'cli', name: 'admin' });
    await until('registered', async () => (await active()).length === 2);
    const out = await link.unbind({ surface: 'cli', name: 'admin' });
    assert.deepEqual([out.portalNotified, out.revoked, out.status.bound, out.status.connected], [true, 1, false, false]);
    assert.deepEqual((await active()).map((d) => d.source), ['local']);
    assert.equal(await store.getSetting('portal.binding'), null);
    assert.deepEqual(await client.nases(), []);
  });
  it('a bind issued while an unbind is in flight waits for it, and the new binding survives a restart', async () => {
    const oldNasId = await bound();
    await client.register(oldNasId, { expiry: 600, address: '203.0.113.31' });
    await until('registered', async () => (await active()).length === 1);
    const { code } = await client.pairingCode();
    // the unbind's revocations take a while: the bind below lands in the middle of them
    const revoke = engine.revoke.bind(engine);
    sinon.stub(engine, 'revoke').callsFake(async (...args) => {
      await sleep(400);
      return revoke(...args);
    });
    const unbinding = link.unbind({ surface: 'cli', name: 'admin' });
    await until('unbind under way', () => !link.status().bound);
    const binding = link.bind({ portalUrl: portal.url, code });
    const [unbound, rebound] = await Promise.all([unbinding, binding]);
    assert.equal(unbound.revoked, 1);
    assert.equal(rebound.bound, true);
    assert.notEqual(rebound.nasId, oldNasId);
    await link.stop();
    link = newLink();
    await link.start();
    assert.equal(link.status().nasId, rebound.nasId, 'the new binding is the stored one');
  });

  it('register-device carries every address the portal saw; add-address adds one to the session\'s device without moving its expiry', async () => {
    const nasId = await bound();
    const reg = portal.sendCommand(nasId, 'register-device', {
      ref: 'dual-1', addresses: ['2001:db8::40', '203.0.113.40'], label: 'phone', qnapId: ACCOUNT.qnapId,
      expiry: { policy: 'session', sessionId: 's-dual', leaseSeconds: 300 },
    });
    await portal.waitForAck(nasId, reg!.seq as number);
    const [device] = (await active());
    assert.deepEqual(device.addresses, ['2001:db8::40', '203.0.113.40']);
    const add = portal.sendCommand(nasId, 'add-address', { deviceId: device.id, sessionId: 's-dual', address: '2001:db8::41', qnapId: ACCOUNT.qnapId });
    await portal.waitForAck(nasId, add!.seq as number);
    const [after] = (await active());
    assert.deepEqual(after.addresses, ['2001:db8::40', '203.0.113.40', '2001:db8::41']);
    assert.equal(after.expiresAt, device.expiresAt, 'the expiry did not move');
    // another session's command cannot add to this device
    const other = portal.sendCommand(nasId, 'add-address', { deviceId: device.id, sessionId: 's-other', address: '2001:db8::42' });
    const ack = await portal.waitForAck(nasId, other!.seq as number);
    assert.match(JSON.stringify(ack), /not_portal_device/);
    assert.deepEqual((await active())[0].addresses, ['2001:db8::40', '203.0.113.40', '2001:db8::41']);
  });

  it('the web page registers the address the portal sees; the NAS refuses loopback and the portal shows why', async () => {
    const nasId = await bound();
    const signin = await fetch(`${portal.url}/signin`, { method: 'POST', body: new URLSearchParams(ACCOUNT), redirect: 'manual' });
    const cookie = (signin.headers.get('set-cookie') ?? '').split(';')[0];
    const page = await (await fetch(`${portal.url}/nas/${nasId}`, { headers: { cookie } })).text();
    assert.match(page, /connects from <code>127\.0\.0\.1<\/code>/);
    const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
    const post = await fetch(`${portal.url}/nas/${nasId}/devices`, { method: 'POST', headers: { cookie }, body: new URLSearchParams({ csrf, label: 'browser', expiry: '300' }), redirect: 'manual' });
    assert.equal(post.status, 303);
    await until('refusal acked', async () => (await client.devices(nasId, true)).some((d) => d.state === 'failed'));
    assert.match((await client.devices(nasId, true))[0].note ?? '', /^bad_address: /);
    assert.equal((await active()).length, 0);
  });

  it('an oversize command on the stream is skipped, refused and audited; the stream carries on', async () => {
    const nasId = await bound();
    const before = (await store.listAudit({ limit: 1000 })).length;
    portal.sendRaw(nasId, 'x'.repeat(70_000));
    await until('audited', async () => (await store.listAudit({ limit: 1000 })).length === before + 1);
    assert.match((await store.listAudit({ limit: 1 }))[0].detail, /^too_large: /);
    await client.register(nasId, { expiry: 600, address: '203.0.113.40' });
    await until('still working', async () => (await active()).length === 1);
  });
});
