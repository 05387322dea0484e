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

  /** expiry: "session" or a number of seconds. address only where the portal allows an override. */
  register(nasId: string, opts: { expiry: 'session' | number; label?: string; address?: string }): Promise<{ device: import('./state').PortalDevice; sent: boolean }> {
    return this.call('POST', `nas/${nasId}/devices`, {
      expiry: opts.expiry === 'session' ? 'session' : { seconds: opts.expiry }, label: opts.label, address: opts.address,
    });
  }

  revoke(nasId: string, ref: string, reason?: string): Promise<{ device: import('./state').PortalDevice; sent: boolean }> {
    return this.call('POST', `nas/${nasId}/devices/${ref}/revoke`, { reason });
  }

  async devices(nasId: string, all = false): Promise<Array<import('./state').PortalDevice>> {
    return (await this.call<{ devices: Array<import('./state').PortalDevice> }>('GET', `nas/${nasId}/devices${all ? '?all=1' : ''}`)).devices;
  }
}
