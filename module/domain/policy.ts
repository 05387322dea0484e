// Expiry rules: what a registration may ask for, when it ends, and the timeout the kernel entry carries.
import type { ExpiryRequest } from './records';

export interface PolicyBounds {
  minSeconds: number;
  maxSeconds: number;
  /** Whether a registration may last until it is revoked (policy.allowUntilRevoked); false when absent. */
  allowUntilRevoked?: boolean;
}

export const DEFAULT_POLICY_BOUNDS: Readonly<PolicyBounds> = Object.freeze({ minSeconds: 60, maxSeconds: 43200 });

/** Largest per-entry timeout the kernel's ipset accepts (seconds). */
export const KERNEL_MAX_TIMEOUT = 2147483;

export const SESSION_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export class PolicyError extends Error {
  readonly code = 'bad_expiry';
  constructor(readonly field: string, message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

/**
 * A fresh, validated copy of an expiry request (unknown fields dropped), or a PolicyError naming the field.
 * Fixed periods and session leases are held to the same bounds (policy.minSeconds, policy.maxSeconds).
 */
export function checkExpiry(req: ExpiryRequest, bounds: PolicyBounds): ExpiryRequest {
  checkBounds(bounds, 'bounds');
  if (typeof req !== 'object' || req === null) {
    throw new PolicyError('expiry', 'expiry is missing: give a fixed period or a session');
  }
  const policy: unknown = (req as { policy?: unknown }).policy;
  if (policy === 'fixed') {
    const fixed = req as Extract<ExpiryRequest, { policy: 'fixed' }>;
    return { policy: 'fixed', seconds: checkSeconds(fixed.seconds, 'expiry.seconds', 'expiry', bounds, FIXED_KEYS) };
  }
  if (policy === 'session') {
    const session = req as Extract<ExpiryRequest, { policy: 'session' }>;
    const sessionId: unknown = session.sessionId;
    if (typeof sessionId !== 'string' || !SESSION_ID_PATTERN.test(sessionId)) {
      throw new PolicyError('expiry.sessionId',
        'session id must be 1 to 128 characters of letters, digits and . _ : -');
    }
    const leaseSeconds = checkSeconds(session.leaseSeconds, 'expiry.leaseSeconds', 'lease', bounds, FIXED_KEYS);
    return { policy: 'session', sessionId, leaseSeconds };
  }
  if (policy === 'until-revoked') {
    if (bounds.allowUntilRevoked !== true) {
      throw new PolicyError('expiry.policy', 'registering until revoked is not allowed here: policy.allowUntilRevoked is false in the '
        + 'configuration (set it to true to allow it), so give a period instead');
    }
    return { policy: 'until-revoked' };
  }
  throw new PolicyError('expiry.policy', `expiry policy must be "fixed", "session" or "until-revoked", got ${describe(policy)}`);
}

/**
 * Absolute UTC ms at which the requested access ends (fixed) or its lease lapses (session); null when it lasts
 * until revoked.
 */
export function expiresAtFor(req: Exclude<ExpiryRequest, { policy: 'until-revoked' }>, nowMs: number): number;
export function expiresAtFor(req: ExpiryRequest, nowMs: number): number | null;
export function expiresAtFor(req: ExpiryRequest, nowMs: number): number | null {
  if (req.policy === 'until-revoked') return null;
  const seconds = req.policy === 'fixed' ? req.seconds : req.leaseSeconds;
  return nowMs + seconds * 1000;
}

/**
 * Timeout in whole seconds for a kernel entry that should live remainingMs more, or null when it has already
 * run out (or the input is not a finite number) and must not be added. Never 0: the kernel reads 0 as
 * "forever", so rounding always goes up and never below 1.
 */
export function kernelTimeoutSeconds(remainingMs: number): number | null {
  if (typeof remainingMs !== 'number' || !Number.isFinite(remainingMs) || remainingMs <= 0) return null;
  return Math.min(KERNEL_MAX_TIMEOUT, Math.max(1, Math.ceil(remainingMs / 1000)));
}

// Settings names quoted in messages, so the admin knows which knob sets the limit.
interface BoundKeys { min: string; max: string }
const FIXED_KEYS: BoundKeys = { min: 'policy.minSeconds', max: 'policy.maxSeconds' };

function checkSeconds(value: unknown, field: string, what: string, bounds: PolicyBounds, keys: BoundKeys): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new PolicyError(field, `${what} must be a number of seconds, got ${describe(value)}`);
  }
  if (!Number.isInteger(value)) {
    throw new PolicyError(field, `${what} must be whole seconds, got ${value}s`);
  }
  if (value < bounds.minSeconds) {
    throw new PolicyError(field, `${what} ${value}s is below the minimum ${bounds.minSeconds}s (${keys.min})`);
  }
  if (value > bounds.maxSeconds) {
    throw new PolicyError(field, `${what} ${value}s is above the maximum ${bounds.maxSeconds}s (${keys.max})`);
  }
  return value;
}

function checkBounds(bounds: PolicyBounds, name: string): void {
  const { minSeconds, maxSeconds } = bounds ?? ({} as PolicyBounds);
  if (!Number.isInteger(minSeconds) || !Number.isInteger(maxSeconds)
    || minSeconds < 1 || maxSeconds < minSeconds || maxSeconds > KERNEL_MAX_TIMEOUT) {
    throw new RangeError(`${name} must satisfy 1 <= minSeconds <= maxSeconds <= ${KERNEL_MAX_TIMEOUT}, `
      + `got ${JSON.stringify(bounds)}`);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number') return String(value);
  return typeof value;
}
