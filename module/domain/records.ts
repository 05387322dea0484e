// The records every layer speaks of: the store keeps them, the engine works on them, the surfaces show them.
// The engine contract (module/engine/contract.ts) re-exports them for the surfaces.

export type DeviceSource = 'local' | 'portal';
export type DeviceState = 'active' | 'expired' | 'revoked';
/** How a registration ends: after a fixed period, with the portal session, or only when it is revoked. */
export type ExpiryPolicy = 'fixed' | 'session' | 'until-revoked';

export interface Device {
  id: number;
  /** The first address it was registered with (its family and prefix below). */
  address: string;
  family: 4 | 6;
  prefix: number;
  /** Every address of the device, `address` first: at most one IPv4 and a few IPv6, one expiry for all. */
  addresses: string[];
  label: string;
  qnapId: string | null;
  source: DeviceSource;
  policy: ExpiryPolicy;
  sessionId: string | null;
  registeredAt: number;
  /** When access ends (fixed) or the session's lease lapses; null for a registration until revoked. */
  expiresAt: number | null;
  state: DeviceState;
  endedAt: number | null;
  endedBy: string | null;
  endReason: string | null;
}

export type ExpiryRequest =
  | { policy: 'fixed'; seconds: number }
  | { policy: 'session'; sessionId: string; leaseSeconds: number }
  /** Only where policy.allowUntilRevoked is true, and only for an administrator's (local) registration. */
  | { policy: 'until-revoked' };

export interface RegisterRequest {
  address: string;
  /** Further addresses of the same device (the other family, another IPv6 address). */
  moreAddresses?: string[];
  label?: string;
  qnapId?: string | null;
  source: DeviceSource;
  expiry: ExpiryRequest;
}

/** Who acted, recorded in the audit log. */
export interface Actor {
  surface: 'cli' | 'panel' | 'portal' | 'system';
  /** Shell user for the CLI, QTS user for the panel, QNAP ID for the portal, "sipa" for the system. */
  name: string;
}

/** The daemon itself, when no person acted (expiry, recovery, repairs). */
export const SYSTEM: Actor = { surface: 'system', name: 'sipa' };

export interface AuditEntry {
  id: number;
  at: number;
  surface: Actor['surface'];
  actor: string;
  action: string;
  deviceId: number | null;
  address: string | null;
  detail: string;
}
