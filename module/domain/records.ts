// The shapes the rules work on. They mirror module/engine/contract.ts (Device, ExpiryRequest,
// RegisterRequest) field for field, so the domain needs no import from the layers above it;
// test/domain/records.test.ts fails to compile if the two ever drift apart.

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
