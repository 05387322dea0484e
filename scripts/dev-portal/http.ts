// What every listener of the dev portal shares: its error, reading a request body, writing an answer, and the
// caller's address as the portal sees it.
import type http from 'node:http';
import { DEVICE_SCRIPT } from './pages';

/** A refusal: its status and code go out as `{ error: { code, message } }` (API.md) or as the error page. */
export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

/** "::ffff:198.51.100.7" → "198.51.100.7"; IPv6 lower-cased without zone. */
export function normaliseRemote(address: string | undefined): string {
  const a = (address ?? '').replace(/%.*$/, '').toLowerCase();
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  return m ? m[1] : a;
}

function readRaw(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) { reject(new HttpError(413, 'too_large', `request body over ${limit} bytes`)); req.destroy(); } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
  const text = await readRaw(req, limit);
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'malformed', 'request body is not JSON');
  }
}

export async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  return new URLSearchParams(await readRaw(req, 16384));
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

export function sendHtml(res: http.ServerResponse, status: number, html: string, page: { scripts?: boolean; connect?: string[] } = {}): void {
  const scripts = page.scripts ? `; script-src 'self'; connect-src ${page.connect?.length ? page.connect.join(' ') : "'none'"}` : '';
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store',
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'${scripts}`,
  });
  res.end(html);
}

export function sendScript(res: http.ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
  res.end(DEVICE_SCRIPT);
}
