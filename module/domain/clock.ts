// NAS clocks jump: no RTC on many models, NTP arrives late. Absolute expiry times from the store are only
// used for a restore when the wall clock is believable; otherwise timed access is revoked, never extended.
import type { Device } from './records';

/** How far the clock may sit behind the last time we saw it before we stop believing it (ms). */
export const CLOCK_TOLERANCE_MS = 5000;

export interface ClockEvidence {
  nowMs: number;
  /** Latest wall-clock time the service recorded before, or null on first start. */
  lastSeenMs: number | null;
  /** When this build was made; no correct clock can be earlier. */
  buildTimeMs: number;
}

export interface ClockTrust {
  trusted: boolean;
  reason?: string;
}

export function clockTrust({ nowMs, lastSeenMs, buildTimeMs }: ClockEvidence): ClockTrust {
  if (!Number.isFinite(nowMs)) return { trusted: false, reason: 'the clock gives no valid time' };
  if (Number.isFinite(buildTimeMs) && nowMs < buildTimeMs) {
    return {
      trusted: false,
      reason: `the clock (${iso(nowMs)}) is earlier than this build (${iso(buildTimeMs)}); is NTP set up?`,
    };
  }
  if (lastSeenMs !== null && Number.isFinite(lastSeenMs) && nowMs < lastSeenMs - CLOCK_TOLERANCE_MS) {
    return {
      trusted: false,
      reason: `the clock (${iso(nowMs)}) is behind the last time seen (${iso(lastSeenMs)}); it went backwards`,
    };
  }
  return { trusted: true };
}

/**
 * How long (ms) a stored active device may still live when restoring after a restart: what is left of it
 * by a trusted clock, never more than it was granted; 0 means revoke. Without a trusted clock every timed entry
 * (fixed period or session lease) gets 0. A registration until revoked owes nothing to the clock: Infinity,
 * trusted or not.
 */
export function remainingAfterRestore(device: Device, nowMs: number, trusted: boolean): number {
  if (device.state !== 'active') return 0;
  if (device.expiresAt === null) return device.policy === 'until-revoked' ? Infinity : 0;
  if (!trusted || !Number.isFinite(nowMs)) return 0;
  const remaining = device.expiresAt - nowMs;
  const granted = device.expiresAt - device.registeredAt;
  if (!Number.isFinite(remaining) || remaining <= 0) return 0;
  return Math.max(0, Math.min(remaining, granted));
}

function iso(ms: number): string {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? String(ms) : date.toISOString();
}
