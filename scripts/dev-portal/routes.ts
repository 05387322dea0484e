// The dev portal's routes: the JSON API (API.md) and the web pages on the main listener, the sighting route on
// every listener, and the NAS side handed to nas-protocol.ts.
import type http from 'node:http';
import { HttpError, readForm, readJson, sendHtml, sendJson, sendScript } from './http';
import type { NasProtocol } from './nas-protocol';
import type { Settings } from './options';
import { renderPage, type PageContext } from './pages';
import type { Family, Registrations } from './registrations';
import type { Sessions } from './sessions';
import type { LiveState, NasRecord } from './state';

const SIGHTING_PATH = /^\/api\/v1\/sightings\/([A-Za-z0-9_-]{1,64})$/;

export class Routes {
  constructor(
    private readonly settings: Settings, private readonly live: LiveState, private readonly protocol: NasProtocol,
    private readonly registrations: Registrations, private readonly sessions: Sessions,
    /** The single-family listeners as this machine reaches them; filled in once they listen. */
    private readonly probeListenUrl: { 4: string | null; 6: string | null },
  ) {}

  /** The main listener: pages, the JSON API, the NAS side and the sighting route. */
  serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://dev-portal');
    const path = url.pathname;
    const run = async (): Promise<void> => {
      const sighted = SIGHTING_PATH.exec(path);
      if (sighted && req.method === 'POST') return this.registrations.handleSighting(req, res, sighted[1], null);
      if (path === '/device.js' && req.method === 'GET') return sendScript(res);
      const nasRoute = /^\/api\/nas\/v1\/([a-z]+)$/.exec(path);
      if (nasRoute && req.method === 'POST') return this.protocol.handle(req, res, nasRoute[1]);
      if (path.startsWith('/api/v1/')) return this.handleApi(req, res, path.slice('/api/v1/'.length).split('/').filter(Boolean));
      if (path === '/api/v1') throw new HttpError(404, 'not_found', 'see scripts/dev-portal/API.md');
      return this.handlePage(req, res, path);
    };
    run().catch((e: unknown) => this.fail(res, path, e));
  }

  /** A listener of one family that serves the sighting route alone (an "ipv4." or "ipv6." test-site host). */
  serveProbe(family: Family, req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://dev-portal').pathname;
    const run = async (): Promise<void> => {
      const sighted = SIGHTING_PATH.exec(path);
      if (sighted && req.method === 'POST') return this.registrations.handleSighting(req, res, sighted[1], family);
      throw new HttpError(404, 'not_found', `the IPv${family}-only endpoint answers POST /api/v1/sightings/{token} alone`);
    };
    run().catch((e: unknown) => this.fail(res, '/api/', e));
  }

  private async handleApi(req: http.IncomingMessage, res: http.ServerResponse, parts: string[]): Promise<void> {
    const { state } = this.live;
    const method = req.method ?? 'GET';
    if (method === 'POST' && !String(req.headers['content-type'] ?? '').startsWith('application/json')) {
      throw new HttpError(415, 'bad_content_type', 'send JSON (Content-Type: application/json)');
    }
    const body = method === 'POST' ? ((await readJson(req, 65536)) ?? {}) as Record<string, unknown> : {};
    if (method === 'POST' && parts[0] === 'signin') {
      const s = this.sessions.signIn(String(body.qnapId ?? ''), String(body.password ?? ''));
      res.setHeader('set-cookie', `sid=${s.token}; HttpOnly; SameSite=Lax; Path=/`);
      return sendJson(res, 200, { token: s.token, sessionId: s.sessionId, qnapId: s.qnapId });
    }
    const session = this.sessions.sessionOf(req);
    if (!session) throw new HttpError(401, 'not_signed_in', 'sign in first (POST /api/v1/signin)');
    if (method === 'POST' && parts[0] === 'signout') {
      this.sessions.signOut(session);
      res.setHeader('set-cookie', 'sid=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0');
      return sendJson(res, 200, { ok: true });
    }
    if (method === 'GET' && parts[0] === 'me') {
      return sendJson(res, 200, { qnapId: session.qnapId, sessionId: session.sessionId, address: this.settings.seenAt(req) });
    }
    if (method === 'POST' && parts[0] === 'pairing-codes') return sendJson(res, 201, this.sessions.newCode(session));
    if (method === 'POST' && parts[0] === 'sightings' && parts.length === 1) {
      const address = this.settings.seenAt(req);
      const s = this.registrations.newSighting(session, address);
      return sendJson(res, 201, { token: s.token, address, probes: this.probeUrlsFor(req) });
    }
    if (method === 'POST' && parts[0] === 'lease' && parts.length === 1) {
      const address = this.settings.seenAt(req);
      return sendJson(res, 200, { address, added: this.registrations.renewFrom(session, null, address) });
    }
    if (parts[0] === 'nas') {
      const mine = state.nases.filter((n) => n.qnapId === session.qnapId);
      if (method === 'GET' && parts.length === 1) return sendJson(res, 200, { nas: mine.map((n) => this.nasView(n)) });
      const nas = mine.find((n) => n.nasId === parts[1]);
      if (!nas) throw new HttpError(404, 'not_found', `no NAS ${parts[1]} on this QNAP ID`);
      if (method === 'GET' && parts[2] === 'devices' && parts.length === 3) {
        this.live.settle(nas);
        const all = (req.url ?? '').includes('all=1');
        return sendJson(res, 200, { devices: nas.devices.filter((d) => all || d.state === 'active') });
      }
      if (method === 'POST' && parts[2] === 'devices' && parts.length === 3) {
        const seconds = this.parseExpiry(body.expiry);
        const label = typeof body.label === 'string' ? body.label.slice(0, 64) : '';
        const sighting = this.registrations.sightingOf(session, body.sighting);
        const out = this.registrations.register(session, nas.nasId, { addresses: this.registrations.addressesFor(req, body.address, sighting), label, seconds, sighting });
        return sendJson(res, 201, out);
      }
      if (method === 'POST' && parts[2] === 'devices' && parts[4] === 'revoke') {
        const reason = typeof body.reason === 'string' && body.reason ? body.reason.slice(0, 200) : `revoked on the portal by ${session.qnapId}`;
        return sendJson(res, 200, this.registrations.revoke(session, nas.nasId, parts[3], reason));
      }
    }
    throw new HttpError(404, 'not_found', `no route ${method} /api/v1/${parts.join('/')}`);
  }

  private async handlePage(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const { leaseSeconds, maxHours, allowAddressOverride, pageRenewSeconds } = this.settings;
    const method = req.method ?? 'GET';
    let session = this.sessions.sessionOf(req);
    const form = method === 'POST' ? await readForm(req) : new URLSearchParams();
    const ctx: PageContext = { ...emptyCtx(leaseSeconds, maxHours), session: session ?? null, address: this.settings.seenAt(req), allowAddressOverride };
    const redirect = (to: string): void => { res.writeHead(303, { location: to }); res.end(); };
    if (method === 'POST' && path === '/signin') {
      try {
        session = this.sessions.signIn(form.get('qnapId') ?? '', form.get('password') ?? '');
        res.setHeader('set-cookie', `sid=${session.token}; HttpOnly; SameSite=Lax; Path=/`);
        return redirect('/');
      } catch (e) {
        ctx.error = (e as Error).message;
        return sendHtml(res, 401, renderPage('signin', ctx));
      }
    }
    if (!session) {
      if (path !== '/') return redirect('/');
      return sendHtml(res, 200, renderPage('signin', ctx));
    }
    if (method === 'POST' && form.get('csrf') !== session.csrf) throw new HttpError(403, 'csrf', 'the form is stale; reload the page');
    ctx.nases = this.live.state.nases.filter((n) => n.qnapId === session.qnapId).map((n) => { this.live.settle(n); return { ...n, connected: this.protocol.connected(n.nasId) }; });
    if (method === 'POST' && path === '/signout') {
      this.sessions.signOut(session);
      res.setHeader('set-cookie', 'sid=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0');
      return redirect('/');
    }
    if (method === 'POST' && path === '/pair') {
      ctx.code = this.sessions.newCode(session);
      return sendHtml(res, 200, renderPage('nases', ctx));
    }
    if (path === '/') return sendHtml(res, 200, renderPage('nases', ctx));
    const m = /^\/nas\/([A-Za-z0-9_-]+)(?:\/devices(?:\/([A-Za-z0-9]+)\/revoke)?)?$/.exec(path);
    const nas = m ? ctx.nases.find((n) => n.nasId === m[1]) : undefined;
    if (!m || !nas) throw new HttpError(404, 'not_found', 'no such page');
    if (method === 'POST' && path.endsWith('/devices')) {
      const expiry = form.get('expiry') ?? 'session';
      const sighting = this.registrations.sightingOf(session, form.get('sighting') || undefined);
      const out = this.registrations.register(session, nas.nasId, {
        addresses: this.registrations.addressesFor(req, form.get('address') || undefined, sighting), label: (form.get('label') ?? '').slice(0, 64),
        seconds: this.parseExpiry(expiry === 'session' ? 'session' : Number(expiry)), sighting,
      });
      return redirect(`/nas/${nas.nasId}?flash=${encodeURIComponent(`Registered ${out.device.addresses.join(' and ')}${out.sent ? '' : ' (the NAS is offline; it gets it when it reconnects)'}`)}`);
    }
    if (method === 'POST' && m[2]) {
      const out = this.registrations.revoke(session, nas.nasId, m[2], `revoked on the portal by ${session.qnapId}`);
      return redirect(`/nas/${nas.nasId}?flash=${encodeURIComponent(`Revoked ${out.device.address}`)}`);
    }
    ctx.nas = nas;
    ctx.flash = new URL(req.url ?? '/', 'http://x').searchParams.get('flash');
    ctx.probes = this.probeUrlsFor(req);
    ctx.sighting = this.registrations.newSighting(session, ctx.address).token;
    ctx.pageRenewSeconds = pageRenewSeconds;
    // CSP host sources cannot name an IPv6 literal (CSP3 host-char is ALPHA / DIGIT / "-"): its scheme stands in.
    const origins = [ctx.probes[4], ctx.probes[6]].filter((u): u is string => u !== null).map((u) => new URL(u))
      .map((u) => (u.hostname.startsWith('[') ? u.protocol : u.origin));
    return sendHtml(res, 200, renderPage('nas', ctx), { scripts: true, connect: origins });
  }

  private fail(res: http.ServerResponse, path: string, e: unknown): void {
    const err = e instanceof HttpError ? e : new HttpError(500, 'internal', (e as Error).message);
    if (err.status === 500) this.settings.log(`dev portal: ${String((e as Error).stack)}`);
    if (res.headersSent) { res.end(); return; }
    if (path.startsWith('/api/')) sendJson(res, err.status, { error: { code: err.code, message: err.message } });
    else sendHtml(res, err.status, renderPage('error', { ...emptyCtx(this.settings.leaseSeconds, this.settings.maxHours), error: err.message }));
  }

  private nasView(nas: NasRecord): Record<string, unknown> {
    this.live.settle(nas);
    return { nasId: nas.nasId, name: nas.name, boundAt: nas.boundAt, connected: this.protocol.connected(nas.nasId), lastContactAt: nas.lastContactAt, seq: nas.seq };
  }

  private parseExpiry(value: unknown): number | null {
    const { maxHours } = this.settings;
    if (value === 'session') return null;
    const seconds = typeof value === 'object' && value !== null ? (value as { seconds?: unknown }).seconds : Number(value);
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 60 || seconds > maxHours * 3600) {
      throw new HttpError(400, 'bad_expiry', `expiry must be "session" or { "seconds": 60..${maxHours * 3600} }`);
    }
    return seconds;
  }

  private probeUrlsFor(req: http.IncomingMessage): { 4: string | null; 6: string | null } {
    const { probeUrls } = this.settings;
    const byHost = probeUrls?.byHost?.[String(req.headers.host ?? '')];
    return byHost ?? { 4: probeUrls?.[4] ?? this.probeListenUrl[4], 6: probeUrls?.[6] ?? this.probeListenUrl[6] };
  }
}

function emptyCtx(leaseSeconds: number, maxHours: number): PageContext {
  return { session: null, address: '', maxHours, allowAddressOverride: false, nases: [], flash: null, error: null, code: null, nas: null, leaseSeconds, probes: { 4: null, 6: null }, sighting: null, pageRenewSeconds: 60 };
}
