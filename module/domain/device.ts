// State transitions of a registered device. Every function returns a new object; the input is never changed.
import { expiresAtFor } from './policy';
import type { Device, RegisterRequest } from './records';

export type EndState = 'expired' | 'revoked';

export class TransitionError extends Error {
  readonly code = 'bad_transition';
  constructor(readonly deviceId: number, readonly from: Device['state'], readonly to: string, message: string) {
    super(message);
    this.name = 'TransitionError';
  }
}

/**
 * Ends an active device: it expired (the kernel dropped it or a lease lapsed) or someone revoked it. Ended
 * devices stay ended; a device that comes back registers again as a new entry.
 */
export function endDevice(device: Device, to: EndState, at: number, by: string, reason: string | null): Device {
  if (to !== 'expired' && to !== 'revoked') {
    throw new TransitionError(device.id, device.state, String(to),
      `device ${device.id} can only end as expired or revoked, not ${JSON.stringify(String(to))}`);
  }
  if (device.state !== 'active') {
    throw new TransitionError(device.id, device.state, to, `device ${device.id} is already ${device.state}`);
  }
  return { ...device, state: to, endedAt: at, endedBy: by, endReason: reason };
}

/** Active and not yet past its expiry (or lease); one until revoked is live until it is revoked. */
export function isLive(device: Device, nowMs: number): boolean {
  return device.state === 'active' && (device.expiresAt === null || device.expiresAt > nowMs);
}

/** The parts of a registration that apply when the address is already registered. */
export type Reregistration = Pick<RegisterRequest, 'label' | 'qnapId' | 'source' | 'expiry'>;

export interface Renewal {
  device: Device;
  /** Fields whose value differs from the existing device, for the audit row. */
  changed: Array<keyof Device>;
}

/**
 * An active address registers again: it stays one entry (same id), the new expiry replaces the old one
 * (shorter or longer — the latest choice of the owner wins), and label, QNAP ID, source and session follow
 * the new request. A label or QNAP ID the request leaves out keeps its value; registeredAt becomes now, the
 * start of the registration now in force. The expiry must already have passed checkExpiry.
 */
export function renewalOf(existing: Device, req: Reregistration, nowMs: number): Renewal {
  if (existing.state !== 'active') {
    throw new TransitionError(existing.id, existing.state, 'active',
      `device ${existing.id} is ${existing.state}; register the address as a new device`);
  }
  const device: Device = {
    ...existing,
    label: req.label !== undefined ? req.label : existing.label,
    qnapId: req.qnapId !== undefined ? req.qnapId : existing.qnapId,
    source: req.source,
    policy: req.expiry.policy,
    sessionId: req.expiry.policy === 'session' ? req.expiry.sessionId : null,
    registeredAt: nowMs,
    expiresAt: expiresAtFor(req.expiry, nowMs),
  };
  const changed = (Object.keys(device) as Array<keyof Device>).filter((k) => device[k] !== existing[k]);
  return { device, changed };
}
