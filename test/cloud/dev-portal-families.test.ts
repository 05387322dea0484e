// The dev portal proves each family (issue 16): its IPv4-only and IPv6-only endpoints note where a signed-in
// client is seen from, a registration carries every address the portal itself saw (register-device), and the
// same session seen later from a new address adds it to its device (add-address) without moving the expiry.
// On loopback: 127.0.0.1 is the device's IPv4, ::1 its IPv6, which the portal sees as the documentation addresses
// they stand for (a NAS refuses loopback ones); the NAS side is the real link and the real engine.
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import sinon from 'sinon';
import { PortalLink } from '../../module/cloud';
import { CommandReceiver } from '../../module/cloud/commands';
import type { Engine } from '../../module/engine';
import { DevPortalClient, startDevPortal, type DevPortal } from '../../scripts/dev-portal';
import { testEngine, type TestEngine } from '../support/test-engine';
import { portalConfig, quietLog, until } from './helpers';

const ACCOUNT = { qnapId: 'owner@example.com', password: 'correct horse' };
/** The internet address each loopback client stands for. */
const SEEN_AS: Record<string, string> = { '127.0.0.1': '192.0.2.1', '127.0.0.2': '192.0.2.2', '::1': '2001:db8::1' };
const V4 = SEEN_AS['127.0.0.1'];
const V6 = SEEN_AS['::1'];

/** A POST from a chosen loopback source address (a second IPv4 of the same session). */
function postFrom(url: string, localAddress: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', localAddress, agent: false }, res => {
      let text = '';
      res.on('data', d => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dev portal: both families, one device (issue 16)', function () {
  this.timeout(20000);
  let h: TestEngine;
  let engine: Engine;
  let portal: DevPortal;
  let link: PortalLink;

  async function start(host: '127.0.0.1' | '::1'): Promise<{ client: DevPortalClient; nasId: string }> {
    portal = await startDevPortal({
      host, port: 0, accounts: [ACCOUNT], stateFile: path.join(h.dir, 'portal.json'), leaseSeconds: 300, leaseRenewSeconds: 3600,
      seenAs: address => SEEN_AS[address] ?? address,
      ipv4Only: { host: '127.0.0.1', port: 0 }, ipv6Only: { host: '::1', port: 0 },
    });
    const client = new DevPortalClient(portal.url);
    await client.signIn(ACCOUNT.qnapId, ACCOUNT.password);
    const { code } = await client.pairingCode();
    const status = await link.bind({ portalUrl: portal.url, code });
    const nasId = status.nasId as string;
    await until('connected', () => link.status().connected && portal.connected(nasId));
    return { client, nasId };
  }
  const acked = (nasId: string, ref: string) => until('the NAS acked it', () => portal.state.nases.find(n => n.nasId === nasId)!.devices.find(d => d.ref === ref && d.deviceId !== null));

  beforeEach(async () => {
    h = await testEngine();
    engine = h.engine;
    link = new PortalLink({ engine, store: h.store, config: portalConfig({ heartbeatSeconds: 0.5, reconnectMinSeconds: 0.05, reconnectMaxSeconds: 0.4, requestTimeoutSeconds: 2, insecureHttp: true }), log: quietLog });
    await link.start();
  });
  afterEach(async () => {
    sinon.restore();
    await link.stop();
    await portal?.stop();
    await h.dispose();
  });

  it('registers every address its single-family endpoints saw, as one device; an address is never taken from the client', async () => {
    const { client, nasId } = await start('127.0.0.1');
    const s = await client.sightings();
    assert.deepEqual(s.probes, { 4: portal.ipv4OnlyUrl, 6: portal.ipv6OnlyUrl });
    assert.match(String(portal.ipv6OnlyUrl), /^http:\/\/\[::1\]:\d+$/);
    assert.deepEqual(await client.sight(portal.ipv6OnlyUrl!, s.token), { address: V6, family: 6, added: [] });
    assert.deepEqual(await client.sight(portal.ipv4OnlyUrl!, s.token), { address: V4, family: 4, added: [] });
    const r = await client.register(nasId, { expiry: 600, label: 'laptop', sighting: s.token });
    assert.deepEqual(r.device.addresses, [V4, V6], 'the registering request\'s own address first, then what the endpoints saw');
    await acked(nasId, r.device.ref);
    const [device] = await engine.list();
    assert.deepEqual(device.addresses, [V4, V6]);
    assert.equal(portal.acks.find(a => a.type === 'register-device')?.ok, true, 'sent as register-device');

    // what a client states is never registered
    await assert.rejects(client.register(nasId, { expiry: 600, address: '203.0.113.9' }), /400 bad_address/);
    // a sighting token is the session's own
    const other = new DevPortalClient(portal.url);
    await other.signIn(ACCOUNT.qnapId, ACCOUNT.password);
    await assert.rejects(other.register(nasId, { expiry: 600, sighting: s.token }), /400 bad_sighting/);
    // the single-family endpoints answer the sighting route alone, and only for a known token
    assert.equal((await fetch(`${portal.ipv6OnlyUrl}/api/v1/me`)).status, 404);
    const unknown = await fetch(`${portal.ipv4OnlyUrl}/api/v1/sightings/not-a-token`, { method: 'POST' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get('access-control-allow-origin'), '*', 'the registration page (another origin) can read why');
    // one address alone goes as a plain register, which every NAS takes
    const lone = new DevPortalClient(portal.url);
    await lone.signIn(ACCOUNT.qnapId, ACCOUNT.password);
    const single = await lone.register(nasId, { expiry: 600, label: 'one family' });
    assert.deepEqual(single.device.addresses, [V4]);
    await acked(nasId, single.device.ref);
    assert.equal(portal.acks.filter(a => a.type === 'register').length, 1);
  });

  it('a device registered again with both families is renewed in place on the NAS, not registered twice', async () => {
    const { client, nasId } = await start('127.0.0.1');
    const first = await client.register(nasId, { expiry: 600, label: 'laptop' });
    const one = await acked(nasId, first.device.ref);
    const again = await client.registerSeen(nasId, { expiry: 600, label: 'laptop' });
    assert.deepEqual(again.device.addresses, [V4, V6]);
    const both = await acked(nasId, again.device.ref);
    assert.equal(both.deviceId, one.deviceId, 'the same NAS device');
    assert.deepEqual((await engine.list()).map(d => [d.id, d.addresses]), [[one.deviceId, [V4, V6]]]);
    assert.equal(portal.state.nases[0].devices.find(d => d.ref === first.device.ref)?.state, 'replaced');
    assert.deepEqual(h.calls.of('revoke'), [], 'nothing was revoked on the way');
  });

  it('the same session seen from a new address adds it to its session device; the expiry does not move', async () => {
    const { client, nasId } = await start('::1');
    const r = await client.register(nasId, { expiry: 'session', label: 'phone' });
    assert.deepEqual(r.device.addresses, [V6]);
    const registered = await acked(nasId, r.device.ref);
    const [before] = await engine.list();
    assert.equal((await client.lease()).added.length, 0, 'seen from where it already is: nothing to add');

    const s = await client.sightings();
    const seen = await client.sight(portal.ipv4OnlyUrl!, s.token);
    assert.deepEqual(seen?.added, [{ nasId, ref: r.device.ref, deviceId: registered.deviceId, address: V4, sent: true }]);
    const after = await until('the NAS added it', async () => (await engine.list()).find(d => d.addresses.includes(V4)));
    assert.deepEqual(after.addresses, [V6, V4]);
    assert.equal(after.expiresAt, before.expiresAt, 'the expiry did not move');
    assert.equal(after.id, before.id, 'the same device');
    const ack = await until('acked', () => portal.acks.find(a => a.type === 'add-address'));
    assert.equal(ack.ok, true);
    assert.deepEqual(portal.state.nases[0].devices.find(d => d.ref === r.device.ref)?.addresses, [V6, V4]);

    // a second IPv4 of the same session is not added: a device has one
    const second = await postFrom(`${portal.ipv4OnlyUrl!}/api/v1/sightings/${s.token}`, '127.0.0.2');
    assert.equal(second.status, 200);
    assert.equal(second.body.address, SEEN_AS['127.0.0.2']);
    assert.deepEqual(second.body.added, []);
    // a fixed registration is not a session's lease: nothing is added to it
    const fixedClient = new DevPortalClient(`http://[::1]:${portal.port}`);
    await fixedClient.signIn(ACCOUNT.qnapId, ACCOUNT.password);
    const fixed = await fixedClient.register(nasId, { expiry: 600, label: 'fixed' });
    await acked(nasId, fixed.device.ref);
    const fs2 = await fixedClient.sightings();
    assert.deepEqual((await fixedClient.sight(portal.ipv4OnlyUrl!, fs2.token))?.added, []);
    assert.deepEqual((await engine.list()).map(d => d.addresses), [[V6]]);
  });

  it('an add-address the NAS refuses leaves the device as it was on the portal', async () => {
    const { client, nasId } = await start('::1');
    const r = await client.register(nasId, { expiry: 'session', label: 'phone' });
    await acked(nasId, r.device.ref);
    sinon.stub(engine, 'addAddress').rejects(Object.assign(new Error(`${V4} is already an address of device 9`), { code: 'conflict' }));
    const s = await client.sightings();
    assert.equal((await client.sight(portal.ipv4OnlyUrl!, s.token))?.added.length, 1);
    const ack = await until('acked', () => portal.acks.find(a => a.type === 'add-address'));
    assert.equal(ack.ok, true);
    assert.match(JSON.stringify(ack.ack.results), /conflict/);
    assert.deepEqual(portal.state.nases[0].devices.find(d => d.ref === r.device.ref)?.addresses, [V6]);
  });

  it('a NAS that does not know register-device (unknown_type) gets the device by its first address', async () => {
    const receive = CommandReceiver.prototype.receive;
    sinon.stub(CommandReceiver.prototype, 'receive').callsFake(async function (this: CommandReceiver, raw: string) {
      const env = JSON.parse(raw) as { seq: number; type: string };
      if (env.type === 'register-device') return this.refuse({ code: 'unknown_type', message: 'unknown command type register-device', seq: env.seq, type: env.type });
      return receive.call(this, raw);
    });
    const { client, nasId } = await start('127.0.0.1');
    const r = await client.registerSeen(nasId, { expiry: 600, label: 'laptop' });
    assert.deepEqual(r.device.addresses, [V4, V6]);
    const device = await acked(nasId, r.device.ref);
    assert.deepEqual(device.addresses, [V4]);
    assert.deepEqual((await engine.list()).map(d => d.addresses), [[V4]]);
    assert.deepEqual(portal.acks.map(a => [a.type, a.ok]).filter(([t]) => t !== 'resync'), [['register-device', false], ['register', true]]);
  });
});
