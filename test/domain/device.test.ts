import assert from 'node:assert/strict';
import { endDevice, isLive, renewalOf, TransitionError } from '../../module/domain/device';
import type { Device } from '../../module/domain/records';

const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

function device(overrides: Partial<Device> = {}): Device {
  return {
    id: 42,
    address: '203.0.113.7',
    addresses: ['203.0.113.7'],
    family: 4,
    prefix: 32,
    label: 'laptop',
    qnapId: 'owner@example.com',
    source: 'portal',
    policy: 'fixed',
    sessionId: null,
    registeredAt: NOW - 600_000,
    expiresAt: NOW + 600_000,
    state: 'active',
    endedAt: null,
    endedBy: null,
    endReason: null,
    ...overrides,
  };
}

describe('domain/device', () => {
  describe('endDevice', () => {
    it('revokes an active device into a new object', () => {
      const before = device();
      const frozen = Object.freeze({ ...before });
      const after = endDevice(frozen, 'revoked', NOW, 'panel:admin', 'lost phone');
      assert.deepEqual(after, { ...before, state: 'revoked', endedAt: NOW, endedBy: 'panel:admin', endReason: 'lost phone' });
      assert.equal(frozen.state, 'active');
    });

    it('expires an active device', () => {
      const after = endDevice(device(), 'expired', NOW, 'sipa', null);
      assert.equal(after.state, 'expired');
      assert.equal(after.endReason, null);
    });

    it('refuses to end a device twice, saying what it already is', () => {
      const revoked = endDevice(device(), 'revoked', NOW, 'cli:root', null);
      assert.throws(() => endDevice(revoked, 'revoked', NOW, 'cli:root', null), {
        name: 'TransitionError', code: 'bad_transition', message: 'device 42 is already revoked',
      });
      assert.throws(() => endDevice(revoked, 'expired', NOW, 'sipa', null), /device 42 is already revoked/);
      const expired = endDevice(device(), 'expired', NOW, 'sipa', null);
      assert.throws(() => endDevice(expired, 'revoked', NOW, 'cli:root', null), (err: unknown) => {
        assert.ok(err instanceof TransitionError);
        assert.equal(err.message, 'device 42 is already expired');
        assert.equal(err.from, 'expired');
        assert.equal(err.to, 'revoked');
        assert.equal(err.deviceId, 42);
        return true;
      });
    });

    it('refuses an end state that is not one', () => {
      assert.throws(() => endDevice(device(), 'active' as 'revoked', NOW, 'x', null), TransitionError);
    });
  });

  describe('isLive', () => {
    it('is active and before expiry', () => {
      assert.equal(isLive(device(), NOW), true);
      assert.equal(isLive(device({ expiresAt: NOW + 1 }), NOW), true);
      assert.equal(isLive(device({ expiresAt: NOW }), NOW), false);
      assert.equal(isLive(device({ expiresAt: NOW - 1 }), NOW), false);
      assert.equal(isLive(device({ state: 'revoked' }), NOW), false);
      assert.equal(isLive(device({ state: 'expired' }), NOW), false);
    });

    it('is live until revoked when it has no end', () => {
      assert.equal(isLive(device({ policy: 'until-revoked', expiresAt: null }), NOW + 10 * 365 * 86_400_000), true);
      assert.equal(isLive(device({ policy: 'until-revoked', expiresAt: null, state: 'revoked' }), NOW), false);
    });
  });

  describe('renewalOf', () => {
    it('keeps one entry and replaces the expiry, even with a shorter one', () => {
      const existing = device({ expiresAt: NOW + 3_600_000 });
      const { device: renewed, changed } = renewalOf(existing, { source: 'portal', expiry: { policy: 'fixed', seconds: 60 } }, NOW);
      assert.equal(renewed.id, 42);
      assert.equal(renewed.address, existing.address);
      assert.equal(renewed.expiresAt, NOW + 60_000);
      assert.equal(renewed.registeredAt, NOW);
      assert.equal(renewed.label, 'laptop', 'a label left out is kept');
      assert.equal(renewed.qnapId, 'owner@example.com', 'a QNAP ID left out is kept');
      assert.deepEqual(changed.sort(), ['expiresAt', 'registeredAt']);
      assert.equal(existing.expiresAt, NOW + 3_600_000, 'input untouched');
    });

    it('follows label, QNAP ID, source and session of the new request', () => {
      const existing = device();
      const { device: renewed, changed } = renewalOf(existing, {
        label: 'phone', qnapId: null, source: 'local',
        expiry: { policy: 'session', sessionId: 'sess-1', leaseSeconds: 900 },
      }, NOW);
      assert.equal(renewed.label, 'phone');
      assert.equal(renewed.qnapId, null);
      assert.equal(renewed.source, 'local');
      assert.equal(renewed.policy, 'session');
      assert.equal(renewed.sessionId, 'sess-1');
      assert.equal(renewed.expiresAt, NOW + 900_000);
      assert.deepEqual(changed.sort(),
        ['expiresAt', 'label', 'policy', 'qnapId', 'registeredAt', 'sessionId', 'source']);
    });

    it('drops the session when the new request is a fixed period', () => {
      const existing = device({ policy: 'session', sessionId: 'sess-1' });
      const { device: renewed } = renewalOf(existing, { source: 'portal', expiry: { policy: 'fixed', seconds: 600 } }, NOW);
      assert.equal(renewed.policy, 'fixed');
      assert.equal(renewed.sessionId, null);
    });

    it('refuses an ended device: that is a new registration', () => {
      const revoked = endDevice(device(), 'revoked', NOW, 'x', null);
      assert.throws(() => renewalOf(revoked, { source: 'portal', expiry: { policy: 'fixed', seconds: 600 } }, NOW),
        { code: 'bad_transition', message: 'device 42 is revoked; register the address as a new device' });
    });
  });
});
