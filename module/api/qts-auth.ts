// The QTS web session: the panel's requests carry the NAS_SID cookie of the admin's QTS login, which
// authLogin.cgi vouches for (XML QDocRoot with authPassed, username, isAdmin). Answers are cached briefly in
// a bounded map so a page full of requests costs one look-up; concurrent look-ups of one sid share a request.
import http from 'node:http';
import https from 'node:https';

export interface QtsSession {
  authPassed: boolean;
  username: string;
  isAdmin: boolean;
}

export class QtsUnavailableError extends Error {
  readonly code = 'auth_unavailable';
}

const POSITIVE_TTL_MS = 30_000;
const NEGATIVE_TTL_MS = 5_000;
const MAX_ENTRIES = 256;
const TIMEOUT_MS = 3_000;
const MAX_REPLY = 64 * 1024;

/** The text of <name>…</name>, with or without CDATA; null when absent. */
function xmlField(xml: string, name: string): string | null {
  const m = new RegExp(`<${name}>\\s*(?:<!\\[CDATA\\[([\\s\\S]*?)\\]\\]>|([^<]*))\\s*</${name}>`).exec(xml);
  if (!m) return null;
  return (m[1] ?? m[2] ?? '').trim();
}

export function parseAuthReply(xml: string): QtsSession {
  if (!xml.includes('<QDocRoot')) throw new QtsUnavailableError('authLogin.cgi did not answer with QDocRoot XML');
  return {
    authPassed: xmlField(xml, 'authPassed') === '1',
    username: xmlField(xml, 'username') ?? xmlField(xml, 'user') ?? '',
    isAdmin: xmlField(xml, 'isAdmin') === '1',
  };
}

function fetchText(url: URL): Promise<string> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = lib.get(url, { timeout: TIMEOUT_MS }, res => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new QtsUnavailableError(`authLogin.cgi answered HTTP ${res.statusCode}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_REPLY) req.destroy(new QtsUnavailableError('authLogin.cgi reply is too large'));
        else chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new QtsUnavailableError('authLogin.cgi did not answer in time')));
    req.on('error', e => reject(e instanceof QtsUnavailableError ? e : new QtsUnavailableError(`authLogin.cgi unreachable: ${e.message}`)));
  });
}

export class QtsSessionChecker {
  private readonly cache = new Map<string, { at: number; answer: Promise<QtsSession> }>();

  constructor(private readonly authUrl: string, private readonly now: () => number = Date.now) {}

  check(sid: string): Promise<QtsSession> {
    const t = this.now();
    const hit = this.cache.get(sid);
    if (hit && t - hit.at < POSITIVE_TTL_MS) return hit.answer;
    const url = new URL(this.authUrl);
    url.searchParams.set('sid', sid);
    const answer = fetchText(url).then(parseAuthReply);
    this.cache.delete(sid);
    this.cache.set(sid, { at: t, answer });
    while (this.cache.size > MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    // Failures are not kept at all (the next request asks again); refusals only briefly.
    answer.then(
      s => { if (!(s.authPassed && s.isAdmin)) this.expireAfter(sid, answer, NEGATIVE_TTL_MS); },
      () => { if (this.cache.get(sid)?.answer === answer) this.cache.delete(sid); },
    );
    return answer;
  }

  private expireAfter(sid: string, answer: Promise<QtsSession>, ttl: number): void {
    const entry = this.cache.get(sid);
    if (entry?.answer === answer) entry.at = this.now() - POSITIVE_TTL_MS + ttl;
  }

  clear(): void {
    this.cache.clear();
  }
}
