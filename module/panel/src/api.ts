// The panel's side of module/api/ROUTES.md: JSON calls with the CSRF token, and the event stream read over
// fetch (so a bearer token works too, and a 401 is seen rather than retried for ever).
import type { AuditEntry, Device, EngineEvents, Status } from '../../engine/contract';

export type { AuditEntry, Device, EngineEvents, Status };

export interface Session {
  user: string;
  csrfToken: string;
  remoteAddress: string | null;
  remoteLan?: boolean;
  remoteRegistered: boolean;
  bound: boolean;
  portalConfigured: boolean;
}

export class ApiFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field: string | null = null) {
    super(message);
  }
}

export class ApiClient {
  private csrf: string | null = null;

  constructor(private readonly base: string, private readonly token: string | null) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { Accept: 'application/json', ...extra };
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  private async request<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), {
        method,
        credentials: 'same-origin',
        cache: 'no-store',
        headers: this.headers(method === 'POST' ? { 'Content-Type': 'application/json', 'X-CSRF-Token': this.csrf ?? '' } : {}),
        body: method === 'POST' ? JSON.stringify(body ?? {}) : undefined,
      });
    } catch {
      throw new ApiFailure(0, 'unreachable', 'The Secure IP Access service cannot be reached. Check that it is running, then retry.');
    }
    const text = await res.text();
    let json: unknown = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string; field?: string | null } } | null)?.error;
      throw new ApiFailure(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `The service answered HTTP ${res.status}.`, e?.field ?? null);
    }
    return json as T;
  }

  async session(): Promise<Session> {
    const s = await this.request<Session>('GET', 'session');
    this.csrf = s.csrfToken;
    return s;
  }

  status(): Promise<Status> {
    return this.request('GET', 'status');
  }

  async devices(): Promise<Device[]> {
    return (await this.request<{ devices: Device[] }>('GET', 'devices?all=1')).devices;
  }

  async audit(limit = 500): Promise<AuditEntry[]> {
    return (await this.request<{ entries: AuditEntry[] }>('GET', `audit?limit=${limit}`)).entries;
  }

  private async post<T>(path: string, body: unknown): Promise<T> {
    try {
      return await this.request<T>('POST', path, body);
    } catch (e) {
      // A restarted daemon has a new CSRF key: fetch the token again once.
      if (e instanceof ApiFailure && e.code === 'csrf') {
        await this.session();
        return this.request<T>('POST', path, body);
      }
      throw e;
    }
  }

  enable(): Promise<Status> {
    return this.post('enable', {});
  }

  disable(): Promise<Status> {
    return this.post('disable', {});
  }

  async register(address: string, label: string, seconds: number): Promise<Device> {
    return (await this.post<{ device: Device }>('devices', { address, label, expiry: { policy: 'fixed', seconds } })).device;
  }

  async revoke(id: number, reason: string): Promise<Device> {
    return (await this.post<{ device: Device }>(`devices/${id}/revoke`, { reason })).device;
  }

  /**
   * Reads the event stream until it ends or `signal` aborts. Resolves when the stream closes; rejects with an
   * ApiFailure for refusals (which should not be retried).
   */
  async events(onOpen: () => void, onEvent: <K extends keyof EngineEvents>(name: K, data: EngineEvents[K]) => void, signal: AbortSignal): Promise<void> {
    const res = await fetch(new URL('events', this.base), { credentials: 'same-origin', cache: 'no-store', headers: this.headers({ Accept: 'text/event-stream' }), signal });
    if (!res.ok || !res.body) {
      let msg = `The event stream answered HTTP ${res.status}.`;
      try { msg = ((await res.json()) as { error: { message: string } }).error.message; } catch { /* keep */ }
      throw new ApiFailure(res.status, `http_${res.status}`, msg);
    }
    onOpen();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let end: number;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        let name = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) name = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (!data.length) continue;
        try {
          onEvent(name as keyof EngineEvents, JSON.parse(data.join('\n')));
        } catch { /* one bad event must not end the stream */ }
      }
    }
  }
}
