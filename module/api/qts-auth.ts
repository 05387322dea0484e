// The QTS web session: the panel's requests carry the NAS_SID cookie of the admin's QTS login, which
// authLogin.cgi vouches for (XML QDocRoot with authPassed, username, isAdmin).
//
// Only QTS's own web server may vouch. Its port is QTS's own setting (`Web Access Port` in the [System] section
// of /etc/config/uLinux.conf, the "System port" of Control Panel > General Settings, 8080 when unset), read at
// every look-up so a port change in QTS is followed. Before an answer is believed, every socket listening where
// the request goes must belong to root, the same sockets before the request and after the answer
// (listener-owner.ts); otherwise the look-up is refused, whatever was answered.
//
// Look-ups are limited per client and overall (token buckets), answers are cached (admins 30 s, refusals 30 s),
// and a sid that was an admin's before is re-checked from a reserve of its own, so a flood of made-up sids
// neither reaches QTS unbounded nor locks out the admins already signed in.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { listenersFor, type Listener, type LoopbackTarget } from './listener-owner';
import { KeyedBuckets, TokenBucket } from './rate';

export interface QtsSession {
  authPassed: boolean;
  username: string;
  isAdmin: boolean;
}

export class QtsUnavailableError extends Error {
  readonly code: string = 'auth_unavailable';
}

/** The web server on the QTS port is not root's: nothing it says is believed. */
export class QtsUntrustedError extends QtsUnavailableError {
  override readonly code = 'auth_untrusted';
  constructor(message: string, readonly port: number, readonly uids: number[]) {
    super(message);
  }
}

/** Too many look-ups from this client, or overall. */
export class QtsLookupLimitedError extends Error {
  readonly code = 'too_many_lookups';
  constructor(message: string, readonly retryAfterSeconds: number) {
    super(message);
  }
}

export const QTS_CONFIG_FILE = '/etc/config/uLinux.conf';
/** QTS's factory default for the system port (what its own pages assume when the key is absent). */
export const QTS_DEFAULT_PORT = 8080;
const AUTH_PATH = '/cgi-bin/authLogin.cgi';

const POSITIVE_TTL_MS = 30_000;
const NEGATIVE_TTL_MS = 30_000;
const MAX_POSITIVE = 256;
const MAX_NEGATIVE = 4096;
const MAX_KNOWN_GOOD = 64;
const TIMEOUT_MS = 3_000;
const MAX_REPLY = 64 * 1024;
/** QTS sids are short tokens; anything else is refused without asking. */
const SID_FORM = /^[A-Za-z0-9_.~-]{1,128}$/;

export const LOOKUP_LIMITS = {
  perClient: { burst: 10, perSecond: 1 },
  overall: { burst: 30, perSecond: 5 },
  /** Re-checks of sids that were an admin's: apart from the rest, so a flood does not end working sessions. */
  knownGood: { burst: 10, perSecond: 1 },
  maxClients: 1024,
};

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

/** `Web Access Port` of [System] in QTS's uLinux.conf (section and key as getcfg matches them: any case). */
export function qtsWebPort(file = QTS_CONFIG_FILE): number {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return QTS_DEFAULT_PORT;
    throw new QtsUnavailableError(`cannot read QTS's configuration ${file}: ${(e as Error).message}`);
  }
  let inSystem = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const section = /^\[(.*)\]$/.exec(line);
    if (section) {
      inSystem = section[1].trim().toLowerCase() === 'system';
      continue;
    }
    if (!inSystem) continue;
    const kv = /^([^=]+)=(.*)$/.exec(line);
    if (!kv || kv[1].trim().toLowerCase() !== 'web access port') continue;
    const port = Number(kv[2].trim());
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new QtsUnavailableError(`QTS's configuration ${file} has no usable "Web Access Port" (${JSON.stringify(kv[2].trim())})`);
    }
    return port;
  }
  return QTS_DEFAULT_PORT;
}

interface Target {
  url: URL;
  host: LoopbackTarget;
  port: number;
}

function fetchText(url: URL): Promise<string> {
  const lib = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    // agent: false — a fresh connection per look-up, made while the ownership check holds.
    const req = lib.get(url, { timeout: TIMEOUT_MS, agent: false, rejectUnauthorized: false }, res => {
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

export interface QtsCheckerOptions {
  /** An explicit authLogin.cgi URL on loopback (tests, a QTS that moved it); null: QTS's own port. */
  url: string | null;
  /** QTS's configuration, for the port. */
  configFile?: string;
  now?: () => number;
  /** Where /proc/net/tcp{,6} are (tests of the parser). */
  procNet?: string;
}

/** Why a session check was refused, for the event-log summary. */
export type RefusalReason = 'rate-limited' | 'untrusted web server' | 'not signed in' | 'not an administrator' | 'malformed session id';

export class QtsSessionChecker {
  private readonly positive = new Map<string, { at: number; answer: Promise<QtsSession> }>();
  private readonly negative = new Map<string, { at: number; answer: QtsSession }>();
  private readonly knownGood = new Map<string, number>();
  private readonly perClient: KeyedBuckets;
  private readonly overall: TokenBucket;
  private readonly goodReserve: TokenBucket;
  private readonly now: () => number;
  /** authLogin.cgi requests made (for tests and the summary). */
  lookups = 0;

  constructor(private readonly opts: QtsCheckerOptions, private readonly onRefused: (reason: RefusalReason, detail?: string) => void = () => undefined) {
    this.now = opts.now ?? Date.now;
    const L = LOOKUP_LIMITS;
    this.perClient = new KeyedBuckets(L.perClient.burst, L.perClient.perSecond, L.maxClients, this.now);
    this.overall = new TokenBucket(L.overall.burst, L.overall.perSecond, this.now);
    this.goodReserve = new TokenBucket(L.knownGood.burst, L.knownGood.perSecond, this.now);
    if (opts.url !== null) this.target(); // a bad override fails at start, not at the first sign-in
  }

  private target(): Target {
    if (this.opts.url === null) {
      const port = qtsWebPort(this.opts.configFile ?? QTS_CONFIG_FILE);
      return { url: new URL(`http://127.0.0.1:${port}${AUTH_PATH}`), host: '127.0.0.1', port };
    }
    const url = new URL(this.opts.url);
    const host = url.hostname === '[::1]' ? '::1' : url.hostname === '127.0.0.1' || url.hostname === 'localhost' ? '127.0.0.1' : null;
    if (host === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
      throw new QtsUnavailableError(`api.qtsAuthUrl must be http(s) on 127.0.0.1 or [::1] (the NAS's own web server), not ${this.opts.url}`);
    }
    if (url.hostname === 'localhost') url.hostname = '127.0.0.1';
    const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    return { url, host, port };
  }

  private rootListeners(t: Target): Listener[] {
    let found: Listener[];
    try {
      found = listenersFor(t.port, t.host, this.opts.procNet);
    } catch (e) {
      throw new QtsUnavailableError(`cannot tell who listens on ${t.host} port ${t.port}: ${(e as Error).message}`);
    }
    if (found.length === 0) throw new QtsUnavailableError(`nothing listens on ${t.host} port ${t.port} (QTS's web server)`);
    const foreign = found.filter(l => l.uid !== 0);
    if (foreign.length > 0) {
      const uids = [...new Set(foreign.map(l => l.uid))];
      throw new QtsUntrustedError(
        `the web server on ${t.host} port ${t.port} is not QTS's own: its socket belongs to uid ${uids.join(', ')}, not root; `
        + 'its answers about QTS sessions are not believed', t.port, uids);
    }
    return found;
  }

  /** One authLogin.cgi request, believed only if root's sockets listened there throughout. */
  private async ask(sid: string): Promise<QtsSession> {
    const t = this.target();
    const before = this.rootListeners(t);
    const url = new URL(t.url);
    url.searchParams.set('sid', sid);
    this.lookups++;
    const text = await fetchText(url);
    const after = this.rootListeners(t);
    const key = (ls: Listener[]) => ls.map(l => l.inode).sort().join(',');
    if (key(before) !== key(after)) {
      throw new QtsUntrustedError(`the socket listening on ${t.host} port ${t.port} changed during the session check; the answer is not believed`, t.port, []);
    }
    return parseAuthReply(text);
  }

  /**
   * The session for a sid, asked of QTS at most as the limits allow. `client` names who is asking (the
   * request's remote address), for the per-client limit.
   */
  check(sid: string, client = 'unknown'): Promise<QtsSession> {
    const t = this.now();
    if (!SID_FORM.test(sid)) {
      this.onRefused('malformed session id');
      return Promise.resolve({ authPassed: false, username: '', isAdmin: false });
    }
    const hit = this.positive.get(sid);
    if (hit && t - hit.at < POSITIVE_TTL_MS) return hit.answer;
    const no = this.negative.get(sid);
    if (no && t - no.at < NEGATIVE_TTL_MS) {
      this.onRefused(no.answer.authPassed ? 'not an administrator' : 'not signed in');
      return Promise.resolve(no.answer);
    }
    const good = this.knownGood.has(sid) && this.goodReserve.take();
    if (!good) {
      const mine = this.perClient.get(client);
      if (!mine.available() || !this.overall.available()) {
        const wait = Math.max(mine.waitMs(), this.overall.waitMs());
        this.onRefused('rate-limited', `client ${client}`);
        return Promise.reject(new QtsLookupLimitedError('too many QTS session checks; try again in a few seconds', Math.max(1, Math.ceil(wait / 1000))));
      }
      mine.take();
      this.overall.take();
    }
    const answer = this.ask(sid);
    this.positive.delete(sid);
    this.positive.set(sid, { at: t, answer });
    while (this.positive.size > MAX_POSITIVE) this.positive.delete(this.positive.keys().next().value as string);
    // Concurrent requests share the pending answer; only admins stay in the positive cache.
    answer.then(
      s => {
        if (s.authPassed && s.isAdmin) {
          this.knownGood.delete(sid);
          this.knownGood.set(sid, this.now());
          while (this.knownGood.size > MAX_KNOWN_GOOD) this.knownGood.delete(this.knownGood.keys().next().value as string);
          return;
        }
        this.dropPending(sid, answer);
        this.knownGood.delete(sid);
        this.negative.set(sid, { at: this.now(), answer: s });
        while (this.negative.size > MAX_NEGATIVE) this.negative.delete(this.negative.keys().next().value as string);
        this.onRefused(s.authPassed ? 'not an administrator' : 'not signed in');
      },
      e => {
        this.dropPending(sid, answer);
        if (e instanceof QtsUntrustedError) this.onRefused('untrusted web server', e.message);
      },
    );
    return answer;
  }

  private dropPending(sid: string, answer: Promise<QtsSession>): void {
    if (this.positive.get(sid)?.answer === answer) this.positive.delete(sid);
  }

  clear(): void {
    this.positive.clear();
    this.negative.clear();
    this.knownGood.clear();
  }
}
