import assert from 'node:assert/strict';
import { CLOCK_TOLERANCE_MS, clockTrust, remainingAfterRestore } from '../../module/domain/clock';
import type { Device } from '../../module/domain/records';

const BUILD = Date.UTC(2025, 0, 1);
const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);

function device(overrides: Partial<Device> = {}): Device {
  return {
    id: 7, address: '2001:db8::7', addresses: ['2001:db8::7'], family: 6, prefix: 128, label: '', qnapId: null, source: 'local',
    policy: 'fixed', sessionId: null, registeredAt: NOW - 60_000, expiresAt: NOW + 60_000, state: 'active',
    endedAt: null, endedBy: null, endReason: null, ...overrides,
  };
}

describe('domain/clock', () => {
  describe('clockTrust', () => {
    it('trusts a clock after the build and not behind the last time seen', () => {
      assert.deepEqual(clockTrust({ nowMs: NOW, lastSeenMs: NOW - 1000, buildTimeMs: BUILD }), { trusted: true });
      assert.deepEqual(clockTrust({ nowMs: NOW, lastSeenMs: null, buildTimeMs: BUILD }), { trusted: true });
    });

    it('tolerates a small step back', () => {
      assert.equal(clockTrust({ nowMs: NOW, lastSeenMs: NOW + CLOCK_TOLERANCE_MS, buildTimeMs: BUILD }).trusted, true);
      assert.equal(CLOCK_TOLERANCE_MS, 5000);
    });

    it('distrusts a clock that went back more than the tolerance', () => {
      const got = clockTrust({ nowMs: NOW, lastSeenMs: NOW + CLOCK_TOLERANCE_MS + 1, buildTimeMs: BUILD });
      assert.equal(got.trusted, false);
      assert.match(got.reason ?? '', /went backwards/);
    });

    it('distrusts a clock earlier than the build (no RTC, NTP not there yet)', () => {
      const got = clockTrust({ nowMs: 0, lastSeenMs: null, buildTimeMs: BUILD });
      assert.equal(got.trusted, false);
      assert.match(got.reason ?? '', /earlier than this build.*2025-01-01/);
    });

    it('distrusts a clock that gives no valid time', () => {
      assert.equal(clockTrust({ nowMs: Number.NaN, lastSeenMs: null, buildTimeMs: BUILD }).trusted, false);
    });
  });

  describe('remainingAfterRestore', () => {
    it('gives what is left by a trusted clock', () => {
      assert.equal(remainingAfterRestore(device(), NOW, true), 60_000);
      assert.equal(remainingAfterRestore(device({ policy: 'session', sessionId: 's' }), NOW, true), 60_000);
    });

    it('gives 0 once expired', () => {
      assert.equal(remainingAfterRestore(device({ expiresAt: NOW }), NOW, true), 0);
      assert.equal(remainingAfterRestore(device({ expiresAt: NOW - 1 }), NOW, true), 0);
    });

    it('errs toward revoking when the clock is not trusted', () => {
      assert.equal(remainingAfterRestore(device(), NOW, false), 0);
      assert.equal(remainingAfterRestore(device({ policy: 'session', sessionId: 's' }), NOW, false), 0);
    });

    it('never gives more than was granted (clock behind within tolerance)', () => {
      const d = device({ registeredAt: NOW, expiresAt: NOW + 60_000 });
      assert.equal(remainingAfterRestore(d, NOW - 4000, true), 60_000);
    });

    it('keeps a registration until revoked whatever the clock says, and only while it is active', () => {
      const forever = device({ policy: 'until-revoked', expiresAt: null });
      assert.equal(remainingAfterRestore(forever, NOW, true), Infinity);
      assert.equal(remainingAfterRestore(forever, NOW, false), Infinity);
      assert.equal(remainingAfterRestore(forever, Number.NaN, false), Infinity);
      assert.equal(remainingAfterRestore({ ...forever, state: 'revoked' }, NOW, true), 0);
      assert.equal(remainingAfterRestore(device({ expiresAt: null }), NOW, true), 0, 'a timed one without an end is not kept');
    });

    it('gives 0 for ended devices and nonsense times', () => {
      assert.equal(remainingAfterRestore(device({ state: 'revoked' }), NOW, true), 0);
      assert.equal(remainingAfterRestore(device({ state: 'expired' }), NOW, true), 0);
      assert.equal(remainingAfterRestore(device(), Number.NaN, true), 0);
      assert.equal(remainingAfterRestore(device({ expiresAt: Number.NaN }), NOW, true), 0);
    });
  });
});
