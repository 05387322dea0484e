// The devices registered on the portal, each with every address the portal itself saw it connect from (API.md,
// "Both families"): sightings, registration, renewal from a new address, revocation.
import type http from 'node:http';
import { randomToken } from '../../module/cloud/keys';
import { HttpError, sendJson } from './http';
import { registerBody, type NasProtocol } from './nas-protocol';
import type { Settings } from './options';
import type { LiveState, PortalDevice, Session } from './state';

/**
 * What the portal saw of one signed-in browser page (or API client) under a token: the addresses its requests
 * came from, and the devices it registered. Never an address the device states.
 */
export interface Sighting { token: string; sessionId: string; createdAt: number; seen: Array<{ address: string; at: number }>; refs: string[] }

/** A registration uses what was seen in the last 10 minutes: an older address may be gone. */
const SIGHTING_FRESH_MS = 10 * 60_000;
const SIGHTINGS_PER_SESSION = 16;

export type Family = 4 | 6;
export const familyOf = (address: string): Family => (address.includes(':') ? 6 : 4);

export interface AddedAddress { nasId: string; ref: string; deviceId: number; address: string; sent: boolean }

export class Registrations {
  private readonly sightings = new Map<string, Sighting>();

  constructor(private readonly settings: Settings, private readonly live: LiveState, private readonly protocol: NasProtocol) {}

  newSighting(session: Session, address: string): Sighting {
    const { now } = this.settings;
    const s: Sighting = { token: randomToken(24), sessionId: session.sessionId, createdAt: now(), seen: [{ address, at: now() }], refs: [] };
    const mine = [...this.sightings.values()].filter((x) => x.sessionId === session.sessionId);
    for (const old of mine.slice(0, Math.max(0, mine.length - SIGHTINGS_PER_SESSION + 1))) this.sightings.delete(old.token);
    this.sightings.set(s.token, s);
    return s;
  }

  /** The session's sighting named by `token` (none if no token is given). */
  sightingOf(session: Session, token: unknown): Sighting | undefined {
    if (token === undefined || token === null || token === '') return undefined;
    const s = typeof token === 'string' ? this.sightings.get(token) : undefined;
    if (!s || s.sessionId !== session.sessionId) throw new HttpError(400, 'bad_sighting', 'unknown sighting token; reload the page (or POST /api/v1/sightings)');
    return s;
  }

  /** Sign-out: the session's sightings go with it. */
  forgetSession(sessionId: string): void {
    for (const [token, s] of this.sightings) if (s.sessionId === sessionId) this.sightings.delete(token);
  }

  /** POST /api/v1/sightings/{token} on any listener: no cookie crosses to the single-family ones, the token does. */
  handleSighting(req: http.IncomingMessage, res: http.ServerResponse, token: string, family: Family | null): void {
    req.resume();
    res.setHeader('access-control-allow-origin', '*');
    // Each sighting on a connection of its own: a kept-alive one would show where the device was, not where it is.
    res.setHeader('connection', 'close');
    const address = this.settings.seenAt(req);
    if (family !== null && familyOf(address) !== family) throw new HttpError(421, 'wrong_family', `this endpoint answers over IPv${family} only`);
    const s = this.sightings.get(token);
    const session = s ? this.live.state.sessions.find((x) => x.sessionId === s.sessionId) : undefined;
    if (!s || !session) throw new HttpError(404, 'not_found', 'unknown sighting token; reload the page');
    this.noteSighting(s, address);
    sendJson(res, 200, { address, family: familyOf(address), added: this.renewFrom(session, s, address) });
  }

  /** What to register: the overriding address (tests only), else every address the portal saw. */
  addressesFor(req: http.IncomingMessage, given: unknown, sighting: Sighting | undefined): string[] {
    if (given !== undefined && given !== null && given !== '') {
      if (!this.settings.allowAddressOverride) throw new HttpError(400, 'bad_address', 'this portal registers the address it sees; it does not take one');
      if (typeof given !== 'string' || given.length > 64) throw new HttpError(400, 'bad_address', 'address must be text');
      return [given];
    }
    return this.addressesSeen(this.settings.seenAt(req), sighting);
  }

  /**
   * The same signed-in session seen from `address` (a lease renewal from there): the address goes to the
   * session's device on each NAS, through add-address, which never moves its expiry. The device is the one this
   * page registered, else the session's newest; only "this session" registrations, only ones the NAS acked.
   */
  renewFrom(session: Session, sighting: Sighting | null, address: string): AddedAddress[] {
    const added: AddedAddress[] = [];
    for (const nas of this.live.state.nases.filter((n) => n.qnapId === session.qnapId)) {
      this.live.settle(nas);
      const active = nas.devices.filter((d) => d.state === 'active');
      if (active.some((d) => d.addresses.includes(address))) continue;
      const own = active.filter((d) => sighting?.refs.includes(d.ref));
      const pool = (own.length > 0 ? own : active).filter((d) => d.policy === 'session' && d.sessionId === session.sessionId);
      const device = pool[pool.length - 1];
      if (!device || device.deviceId === null || !this.canTake(device, address)) continue;
      const env = this.protocol.sendCommand(nas.nasId, 'add-address', { deviceId: device.deviceId, sessionId: session.sessionId, address, qnapId: session.qnapId });
      if (env) {
        device.addresses.push(address);
        this.live.save();
      }
      added.push({ nasId: nas.nasId, ref: device.ref, deviceId: device.deviceId, address, sent: env !== null });
    }
    return added;
  }

  register(session: Session, nasId: string, input: { addresses: string[]; label: string; seconds: number | null; sighting?: Sighting }): { device: PortalDevice; sent: boolean } {
    const { now } = this.settings;
    const { state } = this.live;
    const nas = this.live.nasById(nasId);
    if (!nas || nas.qnapId !== session.qnapId) throw new HttpError(404, 'not_found', `no NAS ${nasId} on this QNAP ID`);
    this.live.settle(nas);
    // A device registered again replaces what it had. The NAS renews in place the device whose first address
    // comes first here; any other device holding one of these addresses is revoked first, as the NAS allows an
    // address to one device at a time.
    let addresses = input.addresses;
    const overlapping = nas.devices.filter((d) => d.state === 'active' && d.addresses.some((a) => addresses.includes(a)));
    const inPlace = overlapping.find((d) => addresses.includes(d.address));
    if (inPlace) addresses = [inPlace.address, ...addresses.filter((a) => a !== inPlace.address)];
    for (const d of overlapping) {
      d.state = 'replaced';
      d.endedAt = now();
      if (d === inPlace) continue;
      const body: Record<string, unknown> = { ref: d.ref, reason: 'replaced by a new registration of the same device', qnapId: session.qnapId };
      if (d.deviceId !== null) body.deviceId = d.deviceId; else body.address = d.address;
      this.protocol.sendCommand(nasId, 'revoke', body);
    }
    const device: PortalDevice = {
      ref: `r${state.nextRef++}`, address: addresses[0], addresses, label: input.label, qnapId: session.qnapId,
      policy: input.seconds === null ? 'session' : 'fixed', seconds: input.seconds,
      sessionId: input.seconds === null ? session.sessionId : null, registeredAt: now(),
      expiresAt: input.seconds === null ? null : now() + input.seconds * 1000, state: 'active', deviceId: null, endedAt: null, note: null,
    };
    nas.devices.push(device);
    input.sighting?.refs.push(device.ref);
    this.live.save();
    const env = addresses.length > 1
      ? this.protocol.sendCommand(nasId, 'register-device', { ...registerBody(device, this.settings.leaseSeconds), addresses })
      : this.protocol.sendCommand(nasId, 'register', { ...registerBody(device, this.settings.leaseSeconds), address: device.address });
    return { device, sent: env !== null };
  }

  revoke(session: Session, nasId: string, ref: string, reason: string): { device: PortalDevice; sent: boolean } {
    const nas = this.live.nasById(nasId);
    if (!nas || nas.qnapId !== session.qnapId) throw new HttpError(404, 'not_found', `no NAS ${nasId} on this QNAP ID`);
    this.live.settle(nas);
    const device = nas.devices.find((d) => d.ref === ref);
    if (!device) throw new HttpError(404, 'not_found', `no device ${ref} on NAS ${nasId}`);
    if (device.state !== 'active') throw new HttpError(409, 'conflict', `device ${ref} is already ${device.state}`);
    device.state = 'revoked';
    device.endedAt = this.settings.now();
    device.note = reason;
    this.live.save();
    const body: Record<string, unknown> = { ref, reason, qnapId: session.qnapId };
    if (device.deviceId !== null) body.deviceId = device.deviceId; else body.address = device.address;
    return { device, sent: this.protocol.sendCommand(nasId, 'revoke', body) !== null };
  }

  private noteSighting(s: Sighting, address: string): void {
    s.seen = [...s.seen.filter((x) => x.address !== address), { address, at: this.settings.now() }];
  }

  /**
   * The addresses to register: the registering request's own first, then the freshest of the others seen under
   * the sighting; at most one IPv4 and maxIpv6 IPv6.
   */
  private addressesSeen(first: string, s: Sighting | undefined): string[] {
    const { now, maxIpv6 } = this.settings;
    const fresh = (s?.seen ?? []).filter((x) => now() - x.at <= SIGHTING_FRESH_MS).sort((a, b) => b.at - a.at).map((x) => x.address);
    const out: string[] = [];
    for (const a of [first, ...fresh]) {
      if (out.includes(a)) continue;
      const same = out.filter((x) => familyOf(x) === familyOf(a)).length;
      if (same < (familyOf(a) === 4 ? 1 : maxIpv6)) out.push(a);
    }
    return out;
  }

  private canTake(d: PortalDevice, address: string): boolean {
    const same = d.addresses.filter((x) => familyOf(x) === familyOf(address)).length;
    return same < (familyOf(address) === 4 ? 1 : this.settings.maxIpv6);
  }
}
