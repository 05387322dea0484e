// The dev portal's options (API.md) and the settings every part of it reads, defaults filled in.
import type http from 'node:http';
import { normaliseRemote } from './http';
import type { Account } from './state';

export interface DevPortalOptions {
  host: string;
  port: number;
  accounts: Account[];
  stateFile?: string;
  /** Lease given to "this session" registrations (s); default 300. */
  leaseSeconds?: number;
  /** How often leases are renewed (s); default leaseSeconds / 3. */
  leaseRenewSeconds?: number;
  /** Longest fixed period offered (hours); default 12. */
  maxHours?: number;
  /** Validity of each command envelope (s); default 300. */
  envelopeSeconds?: number;
  /** Let the JSON API and the form name the address to register (tests on 127.0.0.1; never a real portal). */
  allowAddressOverride?: boolean;
  /**
   * The address the portal sees a client at, from its socket's (default: that one). Tests on loopback name the
   * internet addresses their clients stand for, as a NAS refuses loopback ones.
   */
  seenAs?: (address: string) => string;
  /**
   * Listeners that answer over one family only, as dual-stack test sites do (API.md, "Both families"): the
   * registration page calls each, so the portal sees the device's IPv4 and its IPv6 address itself.
   * Host defaults: 0.0.0.0 and :: (IPv6 only); port 0 takes a free one.
   */
  ipv4Only?: { host?: string; port: number };
  ipv6Only?: { host?: string; port: number };
  /**
   * The URLs of those listeners as devices reach them (default: their own address when it is a specific one);
   * `byHost`: other URLs for pages served under that Host header (a bridge into a namespace).
   */
  probeUrls?: { 4?: string | null; 6?: string | null; byHost?: Record<string, { 4: string | null; 6: string | null }> };
  /** How often an open registration page renews from where the device is, on each family (s); default 60. */
  pageRenewSeconds?: number;
  /** IPv6 addresses registered per device at most; default 4, the NAS's default policy.maxIpv6PerDevice. */
  maxIpv6PerDevice?: number;
  /** The portal's clock (ms). */
  now?: () => number;
  log?: (line: string) => void;
}

export interface Settings {
  now: () => number;
  log: (line: string) => void;
  leaseSeconds: number;
  renewMs: number;
  envelopeMs: number;
  maxHours: number;
  maxIpv6: number;
  pageRenewSeconds: number;
  allowAddressOverride: boolean;
  probeUrls: DevPortalOptions['probeUrls'];
  /** The address the portal sees the request's client at. */
  seenAt: (req: http.IncomingMessage) => string;
}

export function settingsOf(opts: DevPortalOptions): Settings {
  const leaseSeconds = opts.leaseSeconds ?? 300;
  return {
    now: opts.now ?? Date.now,
    log: opts.log ?? (() => undefined),
    leaseSeconds,
    renewMs: (opts.leaseRenewSeconds ?? Math.max(1, leaseSeconds / 3)) * 1000,
    envelopeMs: (opts.envelopeSeconds ?? 300) * 1000,
    maxHours: opts.maxHours ?? 12,
    maxIpv6: opts.maxIpv6PerDevice ?? 4,
    pageRenewSeconds: opts.pageRenewSeconds ?? 60,
    allowAddressOverride: opts.allowAddressOverride === true,
    probeUrls: opts.probeUrls,
    seenAt: req => {
      const address = normaliseRemote(req.socket.remoteAddress);
      return opts.seenAs ? opts.seenAs(address) : address;
    },
  };
}
