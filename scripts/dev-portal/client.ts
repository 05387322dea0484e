// A small client of the dev portal's JSON API (API.md), for tests and the demo.
export class DevPortalClient {
  token: string | null = null;
  sessionId: string | null = null;

  constructor(readonly url: string) {}

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.url}/api/v1/${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const json = await res.json() as T & { error?: { code: string; message: string } };
    if (!res.ok) throw Object.assign(new Error(`${method} ${path}: ${res.status} ${json.error?.code}: ${json.error?.message}`), { status: res.status, code: json.error?.code });
    return json;
  }

  async signIn(qnapId: string, password: string): Promise<{ token: string; sessionId: string; qnapId: string }> {
    const r = await this.call<{ token: string; sessionId: string; qnapId: string }>('POST', 'signin', { qnapId, password });
    this.token = r.token;
    this.sessionId = r.sessionId;
    return r;
  }

  async signOut(): Promise<void> {
    await this.call('POST', 'signout', {});
    this.token = null;
  }

  pairingCode(): Promise<{ code: string; expiresAt: number }> {
    return this.call('POST', 'pairing-codes', {});
  }

  async nases(): Promise<Array<{ nasId: string; name: string; connected: boolean; lastContactAt: number | null; seq: number }>> {
    return (await this.call<{ nas: Array<{ nasId: string; name: string; connected: boolean; lastContactAt: number | null; seq: number }> }>('GET', 'nas')).nas;
  }

  /**
   * expiry: "session" or a number of seconds. address only where the portal allows an override; sighting: a
   * token from sightings(), whose addresses the portal registers too.
   */
  register(nasId: string, opts: { expiry: 'session' | number; label?: string; address?: string; sighting?: string }): Promise<{ device: import('./state').PortalDevice; sent: boolean }> {
    return this.call('POST', `nas/${nasId}/devices`, {
      expiry: opts.expiry === 'session' ? 'session' : { seconds: opts.expiry }, label: opts.label, address: opts.address, sighting: opts.sighting,
    });
  }

  /** Starts noting where this client is seen from; the answer names the single-family endpoints to call. */
  sightings(): Promise<{ token: string; address: string; probes: { 4: string | null; 6: string | null } }> {
    return this.call('POST', 'sightings', {});
  }

  /** One call to a single-family endpoint: the portal notes the address it came from (and adds it, see API.md). */
  async sight(probeUrl: string, token: string): Promise<{ address: string; family: 4 | 6; added: unknown[] } | null> {
    try {
      const res = await fetch(`${probeUrl}/api/v1/sightings/${encodeURIComponent(token)}`, { method: 'POST', signal: AbortSignal.timeout(4000) });
      return res.ok ? await res.json() as { address: string; family: 4 | 6; added: unknown[] } : null;
    } catch {
      return null;
    }
  }

  /** What the registration page does: both single-family endpoints, then one registration of what was seen. */
  async registerSeen(nasId: string, opts: { expiry: 'session' | number; label?: string }): Promise<{ device: import('./state').PortalDevice; sent: boolean; sighting: string }> {
    const s = await this.sightings();
    await Promise.all([s.probes[4], s.probes[6]].map(u => (u ? this.sight(u, s.token) : null)));
    return { ...await this.register(nasId, { ...opts, sighting: s.token }), sighting: s.token };
  }

  /** A lease renewal from where this client is now: a new address of the session's device is added. */
  lease(): Promise<{ address: string; added: Array<{ nasId: string; ref: string; deviceId: number; address: string; sent: boolean }> }> {
    return this.call('POST', 'lease', {});
  }

  revoke(nasId: string, ref: string, reason?: string): Promise<{ device: import('./state').PortalDevice; sent: boolean }> {
    return this.call('POST', `nas/${nasId}/devices/${ref}/revoke`, { reason });
  }

  async devices(nasId: string, all = false): Promise<Array<import('./state').PortalDevice>> {
    return (await this.call<{ devices: Array<import('./state').PortalDevice> }>('GET', `nas/${nasId}/devices${all ? '?all=1' : ''}`)).devices;
  }
}
