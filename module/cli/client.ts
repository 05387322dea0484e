// The CLI's side of the API: HTTP over the daemon's unix socket, and where that socket is. Every command but
// daemon, doctor, selftest and uninstall-cleanup runs on this file, format.ts and batch-file.ts alone: no
// validator, store, kernel or engine code is loaded, so a command costs little more than Node's own start.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';

export class DaemonUnreachable extends Error {
  override readonly name = 'DaemonUnreachable';
}

export class ApiFailure extends Error {
  override readonly name = 'ApiFailure';
  constructor(readonly status: number, readonly code: string, message: string, readonly field: string | null, readonly items: unknown[] = []) {
    super(message);
  }
}

/**
 * One request, HTTP/1.1 written and read by hand on the unix socket (Connection: close, so the reply ends with
 * the connection): node:http would cost ~10 ms of a command's ~40 in loading and first-use set-up.
 */
export function apiRequest<T>(socket: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
  const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
  let user = 'unknown';
  try {
    user = process.env.SUDO_USER || os.userInfo().username;
  } catch {
    // no passwd entry: keep "unknown"
  }
  const head = [`${method} ${path} HTTP/1.1`, 'Host: localhost', `X-Sipa-User: ${user.replace(/[^\x20-\x7e]/g, '?')}`, 'Connection: close',
    ...(payload ? ['Content-Type: application/json', `Content-Length: ${payload.length}`] : []), '', ''].join('\r\n');
  return new Promise((resolve, reject) => {
    const conn = net.connect(socket);
    const chunks: Buffer[] = [];
    conn.setTimeout(timeoutMs, () => conn.destroy(new Error('timed out')));
    conn.on('connect', () => {
      conn.write(head);
      if (payload) conn.write(payload);
    });
    conn.on('data', (d: Buffer) => chunks.push(d));
    conn.on('end', () => {
      let reply: { status: number; text: string };
      try {
        reply = readReply(Buffer.concat(chunks));
      } catch (e) {
        reject(new ApiFailure(0, 'bad_reply', `the daemon's reply could not be read: ${(e as Error).message}`, null));
        return;
      }
      let json: unknown;
      try {
        json = reply.text ? JSON.parse(reply.text) : null;
      } catch {
        reject(new ApiFailure(reply.status, 'bad_reply', `the daemon answered ${reply.status} with something that is not JSON`, null));
        return;
      }
      if (reply.status >= 400) {
        const e = (json as { error?: { code?: string; message?: string; field?: string; items?: unknown[] } } | null)?.error ?? {};
        reject(new ApiFailure(reply.status, e.code ?? 'error', e.message ?? `the daemon answered ${reply.status}`, e.field ?? null, e.items ?? []));
      } else resolve(json as T);
    });
    conn.on('error', (err: NodeJS.ErrnoException) => {
      if (['ENOENT', 'ECONNREFUSED', 'EACCES'].includes(err.code ?? '')) {
        reject(new DaemonUnreachable(`the daemon is not reachable at ${socket} (${err.code}); start it with "sipa daemon" or the service script`));
      } else reject(err);
    });
  });
}

/** Status and body of a whole HTTP/1.1 reply (Content-Length or chunked; the daemon sends nothing else). */
export function readReply(raw: Buffer): { status: number; text: string } {
  const headEnd = raw.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error(raw.length ? 'no end of headers' : 'nothing came back');
  const lines = raw.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3}) /.exec(`${lines[0]} `);
  if (!status) throw new Error(`not an HTTP reply: ${JSON.stringify(lines[0].slice(0, 40))}`);
  const header = (name: string) => lines.slice(1).find(l => l.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim();
  let content = raw.subarray(headEnd + 4);
  if (/chunked/i.test(header('transfer-encoding') ?? '')) content = dechunk(content);
  else {
    const length = header('content-length');
    if (length !== undefined && content.length < Number(length)) throw new Error(`cut short at ${content.length} of ${length} bytes`);
  }
  return { status: Number(status[1]), text: content.toString('utf8') };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; ;) {
    const eol = data.indexOf('\r\n', at);
    const size = eol < 0 ? NaN : parseInt(data.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isInteger(size) || eol + 2 + size > data.length) throw new Error('a chunked reply cut short');
    if (size === 0) return Buffer.concat(parts);
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** The schema's default runDir (module/schemas/config.schema.json; a test keeps the two equal). */
export const DEFAULT_RUN_DIR = '/var/run/sipa';

/**
 * The run dir from the config file, by a hand check of that one key; null when the file cannot say it plainly
 * (unreadable, not JSON, runDir not a non-empty string), and then the full validation names what is wrong.
 * A missing file that was not asked for by name means the defaults (as the full validation would have it).
 */
export function runDirOf(file: string, named: boolean): string | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return !named && (e as NodeJS.ErrnoException).code === 'ENOENT' ? DEFAULT_RUN_DIR : null;
  }
  try {
    const raw = JSON.parse(text) as unknown;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
    const runDir = (raw as { runDir?: unknown }).runDir;
    if (runDir === undefined) return DEFAULT_RUN_DIR;
    return typeof runDir === 'string' && runDir.length > 0 ? runDir : null;
  } catch {
    return null;
  }
}
