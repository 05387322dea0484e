// The records the rules work on. The engine contract (module/engine/contract.ts) re-exports them, so every
// layer speaks of the same Device.

export type DeviceSource = 'local' | 'portal';
export type DeviceState = 'active' | 'expired' | 'revoked';

export interface Device {
  id: number;
  address: string;
  family: 4 | 6;
  prefix: number;
  label: string;
  qnapId: string | null;
  source: DeviceSource;
  policy: 'fixed' | 'session';
  sessionId: string | null;
  registeredAt: number;
  expiresAt: number;
  state: DeviceState;
  endedAt: number | null;
  endedBy: string | null;
  endReason: string | null;
}

export type ExpiryRequest =
  | { policy: 'fixed'; seconds: number }
  | { policy: 'session'; sessionId: string; leaseSeconds: number };

export interface RegisterRequest {
  address: string;
  label?: string;
  qnapId?: string | null;
  source: DeviceSource;
  expiry: ExpiryRequest;
}
