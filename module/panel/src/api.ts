// The panel's side of module/api/ROUTES.md: JSON calls with the CSRF token, and the event stream read over
// fetch (so a bearer token works too, and a 401 is seen rather than retried for ever).
import type { AuditEntry, Device, EngineEvents, Status } from '../../engine';

export type { AuditEntry, Device, EngineEvents, Status };

/** The engine's events, and what the API itself announces. */
export interface StreamEvents extends EngineEvents {
  portal: Status['portal'];
}

export interface Session {
  user: string;
  csrfToken: string;
  remoteAddress: string | null;
  remoteLan?: boolean;
  remoteRegistered: boolean;
  bound: boolean;
  portalConfigured: boolean;
}

/** How long a registration lasts: seconds, or until it is revoked. */
export type Period = number | 'until-revoked';

export class ApiFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field: string | null = null) {
    super(message);
  }

  /** The service (or the QTS proxy in front of it) did not answer: nothing shown can be vouched for. */
  get unreachable(): boolean {
    return this.status === 0 || this.status === 502 || this.status === 504;
  }

  get signedOut(): boolean {
    return this.status === 401;
  }
}

export const UNREACHABLE = 'The Secure IP Access service cannot be reached. Check that it is running; the panel keeps trying.';

export function asFailure(e: unknown): ApiFailure {
  return e instanceof ApiFailure ? e : new ApiFailure(0, 'internal', String((e as Error)?.message ?? e));
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
    let text: string;
    try {
      res = await fetch(new URL(path, this.base), {
        method,
        credentials: 'same-origin',
        cache: 'no-store',
        headers: this.headers(method === 'POST' ? { 'Content-Type': 'application/json', 'X-CSRF-Token': this.csrf ?? '' } : {}),
        body: method === 'POST' ? JSON.stringify(body ?? {}) : undefined,
      });
      text = await res.text();
    } catch {
      throw new ApiFailure(0, 'unreachable', UNREACHABLE);
    }
    let json: unknown = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    if (!res.ok) {
      const e = (json as { error?: { code?: string; message?: string; field?: string | null } } | null)?.error;
      const failure = new ApiFailure(res.status, e?.code ?? `http_${res.status}`, e?.message ?? `The service answered HTTP ${res.status}.`, e?.field ?? null);
      throw failure.unreachable && !e ? new ApiFailure(res.status, 'unreachable', UNREACHABLE) : failure;
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

  /** Every stored registration, ended ones included (the list shows one row per address with its history). */
  async devices(): Promise<Device[]> {
    return (await this.request<{ devices: Device[] }>('GET', 'devices?all=1')).devices;
  }

  /**
   * The first `limit` active devices in the list's order and how many are active, from the daemon's memory: the
   * first rows on screen before the whole list arrives.
   */
  firstDevices(limit: number): Promise<{ devices: Device[]; total: number }> {
    return this.request('GET', `devices?first=${limit}`);
  }

  /** A page of the audit log, newest first, filtered on the server. */
  async audit(opts: { limit: number; before?: number | null; q?: string }): Promise<AuditEntry[]> {
    const p = new URLSearchParams({ limit: String(opts.limit) });
    if (opts.before) p.set('before', String(opts.before));
    if (opts.q) p.set('q', opts.q);
    return (await this.request<{ entries: AuditEntry[] }>('GET', `audit?${p}`)).entries;
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

  /**
   * A local registration for `period` seconds, or until revoked (where the policy allows it); an active address
   * registered again is renewed (Extend).
   */
  async register(req: { address: string; moreAddresses?: string[]; label?: string; period: Period }): Promise<Device> {
    const body = {
      address: req.address,
      ...(req.moreAddresses?.length ? { moreAddresses: req.moreAddresses } : {}),
      ...(req.label !== undefined ? { label: req.label } : {}),
      expiry: req.period === 'until-revoked' ? { policy: 'until-revoked' } : { policy: 'fixed', seconds: req.period },
    };
    return (await this.post<{ device: Device }>('devices', body)).device;
  }

  async revoke(id: number, reason: string): Promise<Device> {
    return (await this.post<{ device: Device }>(`devices/${id}/revoke`, { reason })).device;
  }

  bind(code: string): Promise<unknown> {
    return this.post('portal/bind', { code });
  }

  /**
   * Reads the event stream until it ends or `signal` aborts. Resolves when the stream closes; rejects with an
   * ApiFailure when it cannot be opened.
   */
  async events(onOpen: () => void, onEvent: <K extends keyof StreamEvents>(name: K, data: StreamEvents[K]) => void, signal: AbortSignal): Promise<void> {
    let res: Response;
    try {
      res = await fetch(new URL('events', this.base), { credentials: 'same-origin', cache: 'no-store', headers: this.headers({ Accept: 'text/event-stream' }), signal });
    } catch (e) {
      if (signal.aborted) throw e;
      throw new ApiFailure(0, 'unreachable', UNREACHABLE);
    }
    if (!res.ok || !res.body) {
      let msg = `The event stream answered HTTP ${res.status}.`;
      let code = `http_${res.status}`;
      try {
        const e = ((await res.json()) as { error: { message: string; code: string } }).error;
        msg = e.message;
        code = e.code;
      } catch { /* keep */ }
      throw new ApiFailure(res.status, code, msg);
    }
    onOpen();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      let chunk: ReadableStreamReadResult<string>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (signal.aborted) throw e;
        return;
      }
      if (chunk.done) return;
      buf += chunk.value;
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
        let parsed: unknown;
        try { parsed = JSON.parse(data.join('\n')); } catch { continue; /* one bad event must not end the stream */ }
        try {
          onEvent(name as keyof StreamEvents, parsed as never);
        } catch (e) {
          console.error('sipa-panel: an event could not be applied', name, e);
        }
      }
    }
  }
}
