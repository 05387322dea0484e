// HTTP(S) to the portal: JSON requests with a timeout and a bounded answer, and the event stream.
import http from 'node:http';
import https from 'node:https';

export class PortalLinkError extends Error {
  override readonly name = 'PortalLinkError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

const MAX_REPLY_BYTES = 1 << 20;

export interface Pending {
  abort(): void;
}

function request(url: string, body: unknown, timeoutMs: number, accept: string): { req: http.ClientRequest; done: Promise<http.IncomingMessage> } {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  const req = mod.request(u, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': payload.length, accept },
    timeout: timeoutMs,
  });
  const done = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('timeout', () => req.destroy(new PortalLinkError('portal_unreachable', `no answer from ${u.origin} within ${timeoutMs / 1000}s`)));
    req.on('error', (e) => reject(e instanceof PortalLinkError ? e : new PortalLinkError('portal_unreachable', `cannot reach ${u.origin}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
  });
  req.end(payload);
  return { req, done };
}

function readBody(res: http.IncomingMessage, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => res.destroy(new Error('answer too slow')), timeoutMs);
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REPLY_BYTES) res.destroy(new Error('answer too large'));
      else chunks.push(c);
    });
    res.on('end', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('utf8')); });
    res.on('error', (e) => { clearTimeout(timer); reject(new PortalLinkError('portal_unreachable', `portal answer broken off: ${e.message}`)); });
    res.on('close', () => { clearTimeout(timer); if (!res.complete) reject(new PortalLinkError('portal_unreachable', 'portal answer broken off')); });
  });
}

function portalError(status: number, text: string, what: string): PortalLinkError {
  let code = 'portal_refused';
  let message = text.slice(0, 200);
  try {
    const j = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof j.error?.code === 'string') code = j.error.code.slice(0, 40);
    if (typeof j.error?.message === 'string') message = j.error.message.slice(0, 300);
  } catch { /* not JSON: keep the text */ }
  return new PortalLinkError(code, `${what}: the portal answered ${status} ${code}: ${message}`, status);
}

/** POSTs JSON and returns the parsed JSON answer of a 2xx, or throws a PortalLinkError. */
export async function postJson(url: string, body: unknown, timeoutMs: number, what: string, track?: (p: Pending | null) => void): Promise<unknown> {
  const { req, done } = request(url, body, timeoutMs, 'application/json');
  track?.({ abort: () => req.destroy(new PortalLinkError('stopped', 'stopped')) });
  try {
    const res = await done;
    const text = await readBody(res, timeoutMs);
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw portalError(status, text, what);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new PortalLinkError('bad_portal_reply', `${what}: the portal's answer is not JSON`);
    }
  } finally {
    track?.(null);
  }
}

/** Opens the event stream; resolves with the response once the portal answered 200 text/event-stream. */
export async function openStream(url: string, body: unknown, timeoutMs: number, track: (p: Pending | null) => void): Promise<http.IncomingMessage> {
  const { req, done } = request(url, body, timeoutMs, 'text/event-stream');
  track({ abort: () => req.destroy(new PortalLinkError('stopped', 'stopped')) });
  const res = await done;
  const status = res.statusCode ?? 0;
  if (status !== 200 || !String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
    const text = await readBody(res, timeoutMs).catch(() => '');
    throw portalError(status, text, 'opening the stream');
  }
  req.setTimeout(0);
  return res;
}
