import assert from 'node:assert/strict';
import { canonicalJson, CommandReceiver, generateKeyPair, signedBytes, signMessage, verifyEnvelope, verifyMessage, type Binding } from '../../module/cloud';
import type { Engine } from '../../module/engine';
import type { Store } from '../../module/store';
import { testEngine, type TestEngine } from '../support/test-engine';
import { portalConfig, quietLog, VECTORS } from './helpers';

const T0 = 1750000000000;
const NAS = 'nas-golden-0001';

describe('cloud/canonical JSON and signatures', () => {
  it('encodes with sorted keys, no whitespace, integers only', () => {
    assert.equal(canonicalJson({ b: 1, a: [true, null, 'x"\n\u0001é'], c: { z: -5, y: 0 } }), '{"a":[true,null,"x\\"\\n\\u0001é"],"b":1,"c":{"y":0,"z":-5}}');
    assert.equal(canonicalJson(-0), '0');
    assert.equal(canonicalJson('\ud800'), '"\\ud800"');
    for (const bad of [1.5, NaN, Infinity, 2 ** 53, { a: undefined }, new Date(0), () => 1]) {
      assert.throws(() => canonicalJson(bad), /cannot encode/);
    }
  });

  it('golden vector: the committed envelope verifies and re-signing gives the same bytes and signature', () => {
    const { portal, envelope, canonical } = VECTORS;
    assert.equal(signedBytes('portal', envelope).toString('utf8'), canonical);
    assert.equal(verifyMessage('portal', envelope, portal.publicKey), true);
    const { sig, ...unsigned } = envelope;
    assert.equal(signMessage('portal', unsigned, portal.privateKey).sig, sig);
    // The role is part of what is signed: the same signature is not a NAS signature.
    assert.equal(verifyMessage('nas', envelope, portal.publicKey), false);
    const v = verifyEnvelope(JSON.stringify(envelope), { nasId: NAS, portalPublicKey: portal.publicKey, lastSeq: 6, portalNow: T0 + 1000, skewMs: 120_000 });
    assert.equal(v.ok, true);
  });
});

describe('cloud/command receiver: refusals are audited and change nothing', () => {
  let h: TestEngine;
  let store: Store;
  let engine: Engine;
  let receiver: CommandReceiver;
  let mono: number;
  const portal = VECTORS.portal;
  const binding: Binding = {
    v: 1, portalUrl: 'http://127.0.0.1:1', nasId: NAS, qnapId: 'owner@example.com', nasName: 'nas',
    nasPublicKey: VECTORS.nas.publicKey, nasPrivateKey: VECTORS.nas.privateKey, portalPublicKey: portal.publicKey, boundAt: T0,
  };

  function envelope(over: Record<string, unknown> = {}, key = portal.privateKey): Record<string, unknown> {
    const { sig: _s, ...base } = VECTORS.envelope;
    return signMessage('portal', { ...base, ...over }, key);
  }

  async function expectRefused(raw: string, code: string, seq: number | null): Promise<void> {
    const seqBefore = await store.getPortalSequence(NAS);
    const auditBefore = (await store.listAudit({ limit: 1000 })).length;
    const devicesBefore = await store.listDevices({ all: true });
    const ack = await receiver.receive(raw);
    if (seq === null) assert.equal(ack, null);
    else assert.deepEqual({ seq: ack?.seq, ok: ack?.ok, code: ack?.error?.code }, { seq, ok: false, code });
    assert.deepEqual(h.calls.changes(), [], 'the engine was not asked to change anything');
    assert.equal(await store.getPortalSequence(NAS), seqBefore, 'the stored sequence did not move');
    assert.deepEqual(await store.listDevices({ all: true }), devicesBefore);
    const audit = await store.listAudit({ limit: 1000 });
    assert.equal(audit.length, auditBefore + 1, 'one audit row');
    assert.equal(audit[0].action, 'portal-refuse');
    assert.equal(audit[0].surface, 'portal');
    assert.match(audit[0].detail, new RegExp(`^${code}: `));
  }

  beforeEach(async () => {
    h = await testEngine({ now: () => T0 });
    ({ store, engine } = h);
    mono = 5_000;
    receiver = new CommandReceiver({ engine, store, config: portalConfig(), binding, log: quietLog, now: () => T0, monoNow: () => mono });
    receiver.setPortalTime(T0 + 1000);
    await store.setPortalSequence(NAS, 6);
  });
  afterEach(async () => {
    await h.dispose();
  });

  it('accepts the golden envelope: engine.register with source portal, lease + grace, actor = QNAP ID; sequence stored', async () => {
    const ack = await receiver.receive(JSON.stringify(VECTORS.envelope));
    assert.equal(ack?.ok, true);
    // The vector's label carries U+0001 (for the canonical JSON): the NAS shows no controls or direction marks,
    // so the receiver leaves them out rather than refuse the owner's device over a label.
    assert.deepEqual(h.calls.of('register'), [[
      { address: '203.0.113.7', label: 'laptop “café” ', qnapId: 'owner@example.com', source: 'portal', expiry: { policy: 'session', sessionId: 's-golden', leaseSeconds: 300 + 120 } },
      { surface: 'portal', name: 'owner@example.com' },
    ]]);
    assert.deepEqual(ack?.results, [{ ok: true, ref: 'r1', address: '203.0.113.7', deviceId: 1, expiresAt: T0 + 420_000 }]);
    const [device] = await engine.list();
    assert.deepEqual([device.label, device.qnapId, device.source, device.policy, device.sessionId], ['laptop “café”', 'owner@example.com', 'portal', 'session', 's-golden']);
    assert.equal((await store.listAudit({ limit: 1 }))[0].actor, 'owner@example.com');
    assert.equal(await store.getPortalSequence(NAS), 7);
    // The golden envelope again is a replay.
    h.calls.forget();
    await expectRefused(JSON.stringify(VECTORS.envelope), 'replayed', 7);
  });

  it('registers a device whose portal label has direction marks and controls, with the label shown without them', async () => {
    const label = '\u202eمريم\u200f phone\u0007';
    const ack = await receiver.receive(JSON.stringify(envelope({ seq: 8, body: { ...VECTORS.envelope.body, label } })));
    assert.equal(ack?.results?.[0]?.ok, true, JSON.stringify(ack?.results));
    assert.equal((await engine.list())[0].label, 'مريم phone');
  });

  it('refuses a tampered body', async () => {
    const env = { ...VECTORS.envelope, body: { ...VECTORS.envelope.body, address: '198.51.100.66' } };
    await expectRefused(JSON.stringify(env), 'bad_signature', 7);
  });

  it('refuses an envelope signed by another key', async () => {
    await expectRefused(JSON.stringify(envelope({}, generateKeyPair().privateKey)), 'bad_signature', 7);
  });

  it('refuses a replayed or old sequence number', async () => {
    await expectRefused(JSON.stringify(envelope({ seq: 6 })), 'replayed', 6);
    await expectRefused(JSON.stringify(envelope({ seq: 2 })), 'replayed', 2);
  });

  it('refuses stale and future envelopes by the portal\'s time, whatever the NAS wall clock says', async () => {
    await expectRefused(JSON.stringify(envelope({ issuedAt: T0 - 900_000, expiresAt: T0 - 300_000 })), 'expired', 7);
    await expectRefused(JSON.stringify(envelope({ issuedAt: T0 + 400_000, expiresAt: T0 + 700_000 })), 'future', 7);
    // Inside the skew both ways is fine.
    mono += 380_000; // portal time is now T0 + 381 s: the envelope expired 81 s ago, within 120 s skew
    assert.equal((await receiver.receive(JSON.stringify(envelope({ seq: 8 }))))?.ok, true);
  });

  it('takes fresh commands on a NAS whose wall clock is days off (portal time comes from the stream)', async () => {
    const wrong = new CommandReceiver({ engine, store, config: portalConfig(), binding, log: quietLog, now: () => T0 - 5 * 86_400_000, monoNow: () => mono });
    wrong.setPortalTime(T0 + 2000);
    assert.equal((await wrong.receive(JSON.stringify(VECTORS.envelope)))?.ok, true);
  });

  it('refuses an envelope for another NAS', async () => {
    await expectRefused(JSON.stringify(envelope({ nasId: 'nas-someone-else' })), 'wrong_nas', 7);
  });

  it('refuses oversize, non-JSON, misshapen, unknown-version and unknown-type envelopes', async () => {
    const big = envelope({ body: { ...VECTORS.envelope.body, label: 'x'.repeat(70_000) } });
    await expectRefused(JSON.stringify(big), 'too_large', null);
    await expectRefused('{"v":1,', 'malformed', null);
    await expectRefused('[1,2]', 'malformed', null);
    await expectRefused(JSON.stringify({ ...envelope(), extra: 1 }), 'malformed', 7);
    await expectRefused(JSON.stringify(envelope({ expiresAt: T0 + 7_200_000 })), 'malformed', 7);
    await expectRefused(JSON.stringify(envelope({ v: 2 })), 'unsupported_version', 7);
    await expectRefused(JSON.stringify(envelope({ type: 'format-disk', body: {} })), 'unknown_type', 7);
  });

  it('refuses bodies that fail their schema', async () => {
    const body = VECTORS.envelope.body;
    await expectRefused(JSON.stringify(envelope({ body: { ...body, expiry: { policy: 'fixed', seconds: 0 } } })), 'bad_body', 7);
    await expectRefused(JSON.stringify(envelope({ body: { ...body, admin: true } })), 'bad_body', 7);
    await expectRefused(JSON.stringify(envelope({ type: 'revoke', body: { reason: 'x' } })), 'bad_body', 7);
    await expectRefused(JSON.stringify(envelope({ type: 'session-ended', body: { sessionId: 'has space' } })), 'bad_body', 7);
    const ack = await receiver.refuse({ code: 'malformed', message: 'x', seq: null, type: null });
    assert.equal(ack, null);
  });

  it('a batch applies revocations before registrations and refuses a bad item alone', async () => {
    await engine.register({ address: '198.51.100.1', source: 'portal', expiry: { policy: 'fixed', seconds: 600 } }, { surface: 'portal', name: 'x' });
    await engine.register({ address: '198.51.100.2', source: 'portal', expiry: { policy: 'session', sessionId: 's-1', leaseSeconds: 600 } }, { surface: 'portal', name: 'x' });
    h.calls.forget();
    const items = [
      { type: 'register', body: { ref: 'r9', address: '198.51.100.9', label: '', qnapId: 'owner@example.com', expiry: { policy: 'fixed', seconds: 120 } } },
      { type: 'register', body: { ref: 'r10', address: 42 } },
      { type: 'lease-renew', body: { sessionId: 's-1', leaseSeconds: 300 } },
      { type: 'revoke', body: { address: '198.51.100.1', reason: 'lost laptop' } },
      { type: 'session-ended', body: { sessionId: 's-1' } },
    ];
    const ack = await receiver.receive(JSON.stringify(envelope({ seq: 8, type: 'batch', body: { items } })));
    assert.equal(ack?.ok, true);
    assert.deepEqual(h.calls.changes().map((c) => c.method), ['revoke', 'endSession', 'renewSession', 'register']);
    assert.deepEqual(h.calls.of('renewSession')[0].slice(0, 2), ['s-1', 420]);
    const bad = ack?.results?.find((r) => r.item === 1);
    assert.equal(bad?.code, 'bad_body');
    assert.equal((await store.listAudit()).filter((a) => a.action === 'portal-refuse').length, 1);
    assert.deepEqual((await engine.list()).map((d) => d.address), ['198.51.100.9']);
  });

  it('revoke only touches portal devices; engine errors come back as codes', async () => {
    const local = await engine.register({ address: '198.51.100.5', source: 'local', expiry: { policy: 'fixed', seconds: 600 } }, { surface: 'cli', name: 'admin' });
    const ack = await receiver.receive(JSON.stringify(envelope({ seq: 8, type: 'revoke', body: { deviceId: local.id, reason: 'x' } })));
    assert.equal(ack?.results?.[0].code, 'not_portal_device');
    const ack2 = await receiver.receive(JSON.stringify(envelope({ seq: 9, body: { ...VECTORS.envelope.body, expiry: { policy: 'fixed', seconds: 30 } } })));
    assert.equal(ack2?.results?.[0].code, 'bad_expiry');
    const ack3 = await receiver.receive(JSON.stringify(envelope({ seq: 10, body: { ...VECTORS.envelope.body, address: '127.0.0.1' } })));
    assert.equal(ack3?.results?.[0].code, 'bad_address');
    assert.equal((await engine.list()).length, 1);
  });

  it('resync revokes unlisted portal devices, keeps matching ones, registers missing ones, never revives ended ones', async () => {
    const actor = { surface: 'portal' as const, name: 'x' };
    const keep = await engine.register({ address: '198.51.100.1', source: 'portal', expiry: { policy: 'fixed', seconds: 600 } }, actor);
    await engine.register({ address: '198.51.100.2', source: 'portal', expiry: { policy: 'fixed', seconds: 600 } }, actor);
    await engine.register({ address: '198.51.100.3', source: 'local', expiry: { policy: 'fixed', seconds: 600 } }, actor);
    const sess = await engine.register({ address: '198.51.100.4', source: 'portal', expiry: { policy: 'session', sessionId: 's-1', leaseSeconds: 300 } }, actor);
    const gone = await engine.register({ address: '198.51.100.5', source: 'portal', expiry: { policy: 'fixed', seconds: 600 } }, actor);
    await engine.revoke(gone.id, { surface: 'panel', name: 'admin' }, 'not wanted');
    h.calls.forget();
    const portalNow = T0 + 1000;
    const devices = [
      { ref: 'a', deviceId: keep.id, address: '198.51.100.1', label: '', qnapId: 'q', expiry: { policy: 'fixed', expiresAt: portalNow + 600_000 } },
      { ref: 'b', deviceId: sess.id, address: '198.51.100.4', label: '', qnapId: 'q', expiry: { policy: 'session', sessionId: 's-1', leaseSeconds: 300 } },
      { ref: 'c', deviceId: gone.id, address: '198.51.100.5', label: '', qnapId: 'q', expiry: { policy: 'fixed', expiresAt: portalNow + 600_000 } },
      { ref: 'd', deviceId: null, address: '198.51.100.6', label: 'new', qnapId: 'q', expiry: { policy: 'fixed', expiresAt: portalNow + 90_000 } },
      { ref: 'e', deviceId: null, address: '198.51.100.7', label: '', qnapId: 'q', expiry: { policy: 'fixed', expiresAt: portalNow - 1 } },
    ];
    const ack = await receiver.receive(JSON.stringify(envelope({ seq: 8, type: 'resync', body: { devices } })));
    assert.equal(ack?.ok, true);
    assert.deepEqual(h.calls.changes().map((c) => [c.method, c.args[0]]), [['revoke', 2], ['renewSession', 's-1'], ['register', h.calls.of('register')[0][0]]]);
    assert.deepEqual((h.calls.of('register')[0][0] as { expiry: unknown }).expiry, { policy: 'fixed', seconds: 90 });
    const byRef = new Map(ack?.results?.filter((r) => r.ref).map((r) => [r.ref, r]));
    assert.equal(byRef.get('a')?.ok, true);
    assert.equal(byRef.get('c')?.code, 'ended');
    assert.equal(byRef.get('e')?.code, 'expired');
    assert.deepEqual((await engine.list()).map((d) => d.address).sort(), ['198.51.100.1', '198.51.100.3', '198.51.100.4', '198.51.100.6']);
  });
});
