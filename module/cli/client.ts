// The CLI's side of the API: HTTP over the daemon's unix socket.
import http from 'node:http';
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

export function apiRequest<T>(socket: string, method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  let user = 'unknown';
  try {
    user = process.env.SUDO_USER || os.userInfo().username;
  } catch {
    // no passwd entry: keep "unknown"
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: socket,
        method,
        path,
        headers: {
          'X-Sipa-User': user,
          ...(payload !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}),
        },
        timeout: timeoutMs,
      },
      res => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', d => (text += d));
        res.on('end', () => {
          let json: unknown = null;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {
            reject(new ApiFailure(res.statusCode ?? 0, 'bad_reply', `the daemon answered ${res.statusCode} with something that is not JSON`, null));
            return;
          }
          if ((res.statusCode ?? 500) >= 400) {
            const e = (json as { error?: { code?: string; message?: string; field?: string; items?: unknown[] } } | null)?.error ?? {};
            reject(new ApiFailure(res.statusCode ?? 500, e.code ?? 'error', e.message ?? `the daemon answered ${res.statusCode}`, e.field ?? null, e.items ?? []));
          } else resolve(json as T);
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (['ENOENT', 'ECONNREFUSED', 'EACCES'].includes(err.code ?? '')) {
        reject(new DaemonUnreachable(`the daemon is not reachable at ${socket} (${err.code}); start it with "sipa daemon" or the service script`));
      } else reject(err);
    });
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}
