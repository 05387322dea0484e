// One request to the dev portal's JSON API from a chosen source address, run inside the remote namespace:
// "the same signed-in browser session, seen from another address" (a phone that moved from Wi-Fi to mobile
// data keeps its portal cookie). scripts/lib/device.ts always uses the namespace's primary address and keeps
// connections alive, so it cannot show a second address of one session.
//   child:  node browser.js PORTAL_URL FROM TOKEN METHOD PATH [JSON_BODY]   prints {"status", "body"}
import { spawn } from 'node:child_process';
import http from 'node:http';

export interface BrowserAnswer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** POST/GET `/api/v1/<apiPath>` from `from` (an address of the namespace), authenticated with `token`. */
export function portalRequestFrom<T = Record<string, unknown>>(ns: string, portalUrl: string, from: string, token: string,
  method: 'GET' | 'POST', apiPath: string, body?: unknown): Promise<BrowserAnswer<T>> {
  return new Promise((resolve, reject) => {
    const args = [__filename, portalUrl, from, token, method, apiPath];
    if (body !== undefined) args.push(JSON.stringify(body));
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', d => (out += d));
    child.on('exit', code => {
      try {
        resolve(JSON.parse(out) as BrowserAnswer<T>);
      } catch {
        reject(new Error(`browser.js exited ${code} and printed ${JSON.stringify(out)}`));
      }
    });
  });
}

if (require.main === module) {
  const [portalUrl, from, token, method, apiPath, body] = process.argv.slice(2);
  const url = new URL(`/api/v1/${apiPath}`, portalUrl);
  const req = http.request(url, {
    method,
    localAddress: from,
    agent: false,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    timeout: 10_000,
  }, res => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', d => (text += d));
    res.on('end', () => {
      let parsed: unknown = text;
      try { parsed = JSON.parse(text); } catch { /* not JSON: passed on as text */ }
      process.stdout.write(`${JSON.stringify({ status: res.statusCode, body: parsed })}\n`);
    });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', e => {
    process.stdout.write(`${JSON.stringify({ status: 0, body: { error: { code: 'network', message: e.message } } })}\n`);
  });
  req.end(body);
}
