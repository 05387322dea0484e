// The dev portal's state: in memory, optionally mirrored to a JSON file after every change.
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPair, type KeyPair } from '../../module/cloud/keys';

export interface Account { qnapId: string; password: string }

export interface Session {
  /** Cookie / bearer secret; never leaves the portal. */
  token: string;
  /** The id the NAS sees for "this session" registrations. */
  sessionId: string;
  qnapId: string;
  csrf: string;
  createdAt: number;
}

export interface PairingCode { code: string; qnapId: string; expiresAt: number; used: boolean }

export type PortalDeviceState = 'active' | 'revoked' | 'expired' | 'ended' | 'failed' | 'replaced';

export interface PortalDevice {
  ref: string;
  /** The first of `addresses`: the NAS's name for the device in revokes and resyncs. */
  address: string;
  /** Every address the portal itself saw the device connect from (API.md, "Both families"). */
  addresses: string[];
  label: string;
  qnapId: string;
  policy: 'fixed' | 'session';
  /** Fixed: the requested period. */
  seconds: number | null;
  sessionId: string | null;
  registeredAt: number;
  /** Fixed: portal time at which it ends; session: null. */
  expiresAt: number | null;
  state: PortalDeviceState;
  /** The NAS's device id, from its ack. */
  deviceId: number | null;
  endedAt: number | null;
  note: string | null;
}

export interface NasRecord {
  nasId: string;
  qnapId: string;
  name: string;
  publicKey: string;
  boundAt: number;
  /** Last sequence number issued to this NAS. */
  seq: number;
  lastContactAt: number | null;
  devices: PortalDevice[];
}

export interface PortalState {
  v: 1;
  key: KeyPair;
  sessions: Session[];
  codes: PairingCode[];
  nases: NasRecord[];
  nextRef: number;
}

export function loadState(file: string | undefined): PortalState {
  if (file && fs.existsSync(file)) {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as PortalState;
    if (s.v === 1 && s.key?.privateKey) {
      // a state file from before devices had several addresses
      for (const nas of s.nases) for (const d of nas.devices) d.addresses ??= [d.address];
      return s;
    }
    throw new Error(`dev portal: ${file} is not a dev portal state file`);
  }
  return { v: 1, key: generateKeyPair(), sessions: [], codes: [], nases: [], nextRef: 1 };
}

export function saveState(file: string | undefined, state: PortalState): void {
  if (!file) return;
  const tmp = `${file}.tmp`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(tmp, JSON.stringify(state, null, 1));
  fs.renameSync(tmp, file);
}

/** The state in memory, the file it is mirrored to, and what every part of the portal asks of it. */
export class LiveState {
  readonly state: PortalState;

  constructor(private readonly file: string | undefined, private readonly now: () => number) {
    this.state = loadState(file);
  }

  save(): void {
    saveState(this.file, this.state);
  }

  nasById(nasId: string): NasRecord | undefined {
    return this.state.nases.find((n) => n.nasId === nasId);
  }

  /** Marks fixed entries past their end as expired (the NAS's kernel drops them by itself). */
  settle(nas: NasRecord): void {
    const t = this.now();
    for (const d of nas.devices) {
      if (d.state === 'active' && d.policy === 'fixed' && d.expiresAt !== null && d.expiresAt <= t) {
        d.state = 'expired';
        d.endedAt = d.expiresAt;
      }
    }
  }
}

/** Accounts from `{ "accounts": [{ "qnapId", "password" }] }` or a bare array. */
export function loadAccounts(file: string): Account[] {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  const list = Array.isArray(raw) ? raw : (raw as { accounts?: unknown }).accounts;
  if (!Array.isArray(list)) throw new Error(`dev portal: ${file}: expected { "accounts": [{ "qnapId", "password" }] }`);
  return list.map((a: unknown, i: number) => {
    const { qnapId, password } = (a ?? {}) as Record<string, unknown>;
    if (typeof qnapId !== 'string' || !qnapId || typeof password !== 'string') throw new Error(`dev portal: ${file}: accounts[${i}] needs qnapId and password strings`);
    return { qnapId, password };
  });
}
