// The service's face to every surface that drives it: the CLI (over the API), the panel (over the API) and the
// portal link (cloud/). Surfaces depend on this contract, never on the engine's internals, so each can be
// tested against a stub of it.

// The records themselves are the domain's (every layer speaks of them); surfaces take them from here.
import type { Actor, AuditEntry, Device, DeviceSource, DeviceState, ExpiryPolicy, ExpiryRequest, RegisterRequest } from '../domain';
export type { Actor, AuditEntry, Device, DeviceSource, DeviceState, ExpiryPolicy, ExpiryRequest, RegisterRequest };

export interface Status {
  enabled: boolean;
  enforcing: boolean;
  activeDevices: number;
  lanNetworks: string[];
  clockTrusted: boolean;
  /** What an IPv6 registration allows: the address itself, or its /64 ('network'). */
  ipv6Scope: 'address' | 'network';
  /** Whether an administrator may register a device until revoked (policy.allowUntilRevoked). */
  allowUntilRevoked: boolean;
  /** Why the clock was not trusted at start and what happens next, or null. */
  clockNote: string | null;
  /** The store was damaged (or could not be opened) at start: what was done about it. */
  storeRecovered: string | null;
  /** The data partition is full: since when and what still works, or null. */
  storageFull: string | null;
  /** Device rows set aside at start because they could not be read (sipa doctor lists them). */
  quarantinedRows: number;
  /** Ended devices whose end is not recorded in the store yet (retried). */
  unrecordedEnds: number;
  portal: { configured: boolean; bound: boolean; connected: boolean };
  version: string;
  /** The Node.js the daemon runs on and its end of life (filled by the daemon; absent from an engine alone). */
  runtime?: RuntimeSupport;
}

export interface RuntimeSupport {
  /** process.version, e.g. v24.22.3. */
  node: string;
  /** YYYY-MM-DD, the last day of security fixes for that release line; null when not known. */
  endOfLife: string | null;
  pastEndOfLife: boolean;
}

/** Typed events; listeners are isolated, one that throws cannot stop the others. */
export interface EngineEvents {
  registered: { device: Device };
  revoked: { device: Device };
  expired: { device: Device };
  repaired: { what: string };
  enabled: { by: Actor };
  disabled: { by: Actor };
  /** Many devices changed at once (a batch): listeners reload instead of taking one event per device. */
  batch: { registered: number; revoked: number };
}

export interface EngineApi {
  status(): Promise<Status>;
  enable(by: Actor): Promise<void>;
  disable(by: Actor): Promise<void>;
  list(opts?: { all?: boolean }): Promise<Device[]>;
  /** The same list a page at a time, for answers that must not hold it all in memory. */
  listPages(opts?: { all?: boolean }): AsyncIterable<Device[]>;
  /**
   * The first `limit` active devices in the trusted list's order (domain/order.ts) and how many are active: the
   * panel's first page, from memory (no store read), before the whole list arrives.
   */
  firstActive(limit: number): Promise<{ devices: Device[]; total: number }>;
  /**
   * Whether an active device lets this address in, as its kernel entries do (every address of the device, an
   * IPv6 one as its /64 under ipv6Scope "network"), from memory.
   */
  allows(address: string): Promise<boolean>;
  register(req: RegisterRequest, by: Actor): Promise<Device>;
  revoke(idOrAddress: number | string, by: Actor, reason?: string): Promise<Device>;
  /** Adds an address to an active device; its expiry stays. */
  addAddress(deviceId: number, address: string, by: Actor): Promise<Device>;
  /** A batch, all or nothing: one bad item refuses it (EngineError 'bad_batch' naming each bad item). */
  registerMany(reqs: readonly RegisterRequest[], by: Actor): Promise<{ devices: Device[]; renewed: number }>;
  /** A batch of ids or addresses; those that name no active device come back in `notFound`. */
  revokeMany(idsOrAddresses: ReadonlyArray<number | string>, by: Actor, reason?: string): Promise<{ revoked: Device[]; notFound: Array<number | string> }>;
  /** Every active device of the session is revoked (sign-out). Returns what was revoked. */
  endSession(sessionId: string, by: Actor, reason?: string): Promise<Device[]>;
  /** Extends the lease of every active device of the session to `leaseSeconds` from now. */
  renewSession(sessionId: string, leaseSeconds: number, by: Actor): Promise<Device[]>;
  /** Newest first; `beforeId` continues a page, `text` keeps the entries that mention it. */
  audit(opts?: { limit?: number; beforeId?: number; text?: string }): Promise<AuditEntry[]>;
  on<K extends keyof EngineEvents>(event: K, listener: (payload: EngineEvents[K]) => void): () => void;
}
