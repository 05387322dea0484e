import assert from 'node:assert/strict';
import {
  checkExpiry, DEFAULT_POLICY_BOUNDS, expiresAtFor, KERNEL_MAX_TIMEOUT, kernelTimeoutSeconds, PolicyError,
} from '../../module/domain/policy';
import type { ExpiryRequest } from '../../module/domain/records';

const BOUNDS = DEFAULT_POLICY_BOUNDS;

function refused(req: unknown, field: string, message: RegExp | string): void {
  assert.throws(() => checkExpiry(req as ExpiryRequest, BOUNDS), (err: unknown) => {
    assert.ok(err instanceof PolicyError, String(err));
    assert.equal(err.code, 'bad_expiry');
    assert.equal(err.field, field);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

describe('domain/policy', () => {
  it('has the documented defaults', () => {
    assert.deepEqual({ ...DEFAULT_POLICY_BOUNDS }, { minSeconds: 60, maxSeconds: 43200 });
    assert.equal(KERNEL_MAX_TIMEOUT, 2147483);
  });

  describe('checkExpiry', () => {
    it('accepts fixed periods within bounds, edges included', () => {
      for (const seconds of [60, 61, 3600, 43200]) {
        assert.deepEqual(checkExpiry({ policy: 'fixed', seconds }, BOUNDS), { policy: 'fixed', seconds });
      }
    });

    it('accepts sessions and returns a fresh copy without unknown fields', () => {
      const req = { policy: 'session', sessionId: 'a.B_c:1-2', leaseSeconds: 900, extra: 'x' } as ExpiryRequest;
      const got = checkExpiry(req, BOUNDS);
      assert.deepEqual(got, { policy: 'session', sessionId: 'a.B_c:1-2', leaseSeconds: 900 });
      assert.notEqual(got, req);
      assert.deepEqual(checkExpiry({ policy: 'session', sessionId: 'x'.repeat(128), leaseSeconds: 60 }, BOUNDS).policy, 'session');
    });

    it('refuses fixed periods out of bounds, naming the setting', () => {
      refused({ policy: 'fixed', seconds: 30 }, 'expiry.seconds', 'expiry 30s is below the minimum 60s (policy.minSeconds)');
      refused({ policy: 'fixed', seconds: 43201 }, 'expiry.seconds', 'expiry 43201s is above the maximum 43200s (policy.maxSeconds)');
      refused({ policy: 'fixed', seconds: 0 }, 'expiry.seconds', /below the minimum/);
      refused({ policy: 'fixed', seconds: -60 }, 'expiry.seconds', /below the minimum/);
    });

    it('refuses non-numbers and fractions', () => {
      refused({ policy: 'fixed', seconds: 90.5 }, 'expiry.seconds', /whole seconds/);
      refused({ policy: 'fixed', seconds: Number.NaN }, 'expiry.seconds', /number of seconds/);
      refused({ policy: 'fixed', seconds: Number.POSITIVE_INFINITY }, 'expiry.seconds', /number of seconds/);
      refused({ policy: 'fixed', seconds: '600' }, 'expiry.seconds', /number of seconds, got "600"/);
      refused({ policy: 'fixed' }, 'expiry.seconds', /got nothing/);
    });

    it('refuses bad session ids', () => {
      for (const sessionId of ['', 'x'.repeat(129), 'a b', 'a/b', 'é', 'a\n', 42, null, undefined]) {
        refused({ policy: 'session', sessionId, leaseSeconds: 600 }, 'expiry.sessionId', /1 to 128 characters/);
      }
    });

    it('holds leases to the same bounds as fixed periods', () => {
      refused({ policy: 'session', sessionId: 's1', leaseSeconds: 59 }, 'expiry.leaseSeconds',
        'lease 59s is below the minimum 60s (policy.minSeconds)');
      refused({ policy: 'session', sessionId: 's1', leaseSeconds: 43201 }, 'expiry.leaseSeconds', /above the maximum/);
      refused({ policy: 'session', sessionId: 's1', leaseSeconds: 600.5 }, 'expiry.leaseSeconds', /whole seconds/);
      assert.deepEqual(checkExpiry({ policy: 'session', sessionId: 's1', leaseSeconds: 300 }, BOUNDS),
        { policy: 'session', sessionId: 's1', leaseSeconds: 300 });
    });

    it('refuses unknown or missing policies', () => {
      refused({ policy: 'forever' }, 'expiry.policy', 'expiry policy must be "fixed", "session" or "until-revoked", got "forever"');
      refused({}, 'expiry.policy', /got nothing/);
      refused(null, 'expiry', /missing/);
      refused(undefined, 'expiry', /missing/);
    });

    it('rejects inconsistent bounds as a programming error', () => {
      const ok: ExpiryRequest = { policy: 'fixed', seconds: 600 };
      for (const bad of [{ minSeconds: 0, maxSeconds: 60 }, { minSeconds: 600, maxSeconds: 60 },
        { minSeconds: 60, maxSeconds: KERNEL_MAX_TIMEOUT + 1 }, { minSeconds: 1.5, maxSeconds: 60 }]) {
        assert.throws(() => checkExpiry(ok, bad), RangeError);
      }
    });
  });

  describe('until revoked', () => {
    it('is refused unless the policy allows it, naming the key that does', () => {
      refused({ policy: 'until-revoked' }, 'expiry.policy', /not allowed here: policy\.allowUntilRevoked is false/);
      assert.throws(() => checkExpiry({ policy: 'until-revoked' }, { ...BOUNDS, allowUntilRevoked: false }), /policy\.allowUntilRevoked/);
    });

    it('is accepted where the policy allows it, as a fresh copy without unknown fields', () => {
      const req = { policy: 'until-revoked', seconds: 60 } as ExpiryRequest;
      assert.deepEqual(checkExpiry(req, { ...BOUNDS, allowUntilRevoked: true }), { policy: 'until-revoked' });
    });
  });

  describe('expiresAtFor', () => {
    it('adds the period or the lease to now; a registration until revoked has no end', () => {
      assert.equal(expiresAtFor({ policy: 'fixed', seconds: 600 }, 1_000_000), 1_600_000);
      assert.equal(expiresAtFor({ policy: 'session', sessionId: 's', leaseSeconds: 60 }, 5), 60_005);
      assert.equal(expiresAtFor({ policy: 'until-revoked' }, 5), null);
    });
  });

  describe('kernelTimeoutSeconds', () => {
    const cases: Array<[number, number | null]> = [
      [1, 1], [0.001, 1], [Number.MIN_VALUE, 1], [999, 1], [1000, 1], [1001, 2], [59_999.5, 60], [60_000, 60],
      [KERNEL_MAX_TIMEOUT * 1000, KERNEL_MAX_TIMEOUT], [KERNEL_MAX_TIMEOUT * 1000 + 1, KERNEL_MAX_TIMEOUT],
      [Number.MAX_VALUE, KERNEL_MAX_TIMEOUT],
      [0, null], [-0, null], [-1, null], [-1e12, null], [Number.NaN, null],
      [Number.POSITIVE_INFINITY, null], [Number.NEGATIVE_INFINITY, null],
    ];
    for (const [remaining, expected] of cases) {
      it(`${remaining} ms → ${String(expected)}`, () => { assert.equal(kernelTimeoutSeconds(remaining), expected); });
    }

    it('never yields 0 (the kernel would keep the entry forever)', () => {
      for (let ms = -2000; ms <= 5000; ms += 0.25) {
        const t = kernelTimeoutSeconds(ms);
        assert.notEqual(t, 0, `${ms} ms`);
        if (t !== null) {
          assert.ok(Number.isInteger(t) && t >= 1 && t <= KERNEL_MAX_TIMEOUT);
          assert.ok(t * 1000 >= ms, 'rounds up, never cuts access short');
        }
      }
      assert.equal(kernelTimeoutSeconds('5000' as unknown as number), null);
    });
  });
});
