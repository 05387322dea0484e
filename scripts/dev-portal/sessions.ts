// Who is signed in to the dev portal: accounts, sessions (cookie or bearer token), sign-out, pairing codes.
import crypto from 'node:crypto';
import type http from 'node:http';
import { randomToken } from '../../module/cloud/keys';
import { HttpError } from './http';
import type { NasProtocol } from './nas-protocol';
import type { Settings } from './options';
import type { Registrations } from './registrations';
import type { Account, LiveState, Session } from './state';

const CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
const CODE_TTL_MS = 10 * 60_000;

export class Sessions {
  private readonly accounts: Map<string, string>;

  constructor(
    accounts: Account[], private readonly settings: Settings, private readonly live: LiveState,
    private readonly protocol: NasProtocol, private readonly registrations: Registrations,
  ) {
    this.accounts = new Map(accounts.map((a) => [a.qnapId, a.password]));
  }

  /** The session of a request: its bearer token, else its `sid` cookie. */
  sessionOf(req: http.IncomingMessage): Session | undefined {
    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (auth) return this.sessionByToken(auth[1]);
    const cookie = /(?:^|;\s*)sid=([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? '');
    return this.sessionByToken(cookie ? cookie[1] : null);
  }

  signIn(qnapId: string, password: string): Session {
    const expected = this.accounts.get(qnapId);
    const ok = expected !== undefined && expected.length === password.length
      && crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(password));
    if (!ok) throw new HttpError(401, 'bad_credentials', 'QNAP ID or password is wrong');
    const session: Session = { token: randomToken(24), sessionId: `s-${randomToken(12)}`, qnapId, csrf: randomToken(16), createdAt: this.settings.now() };
    this.live.state.sessions.push(session);
    this.live.save();
    return session;
  }

  /** Ends the session and its "this session" devices: each NAS holding some gets session-ended. */
  signOut(session: Session): void {
    const { now } = this.settings;
    const { state } = this.live;
    state.sessions = state.sessions.filter((s) => s !== session);
    this.registrations.forgetSession(session.sessionId);
    for (const nas of state.nases) {
      const mine = nas.devices.filter((d) => d.state === 'active' && d.sessionId === session.sessionId);
      if (mine.length === 0) continue;
      for (const d of mine) { d.state = 'ended'; d.endedAt = now(); d.note = 'signed out'; }
      this.protocol.sendCommand(nas.nasId, 'session-ended', { sessionId: session.sessionId, qnapId: session.qnapId, reason: 'signed out of the portal' });
    }
    this.live.save();
  }

  newCode(session: Session): { code: string; expiresAt: number } {
    const { now } = this.settings;
    const { state } = this.live;
    const bytes = crypto.randomBytes(8);
    const code = Array.from(bytes, (b) => CODE_ALPHABET[b % CODE_ALPHABET.length]).join('');
    const expiresAt = now() + CODE_TTL_MS;
    state.codes = state.codes.filter((c) => !c.used && c.expiresAt > now());
    state.codes.push({ code, qnapId: session.qnapId, expiresAt, used: false });
    this.live.save();
    return { code, expiresAt };
  }

  private sessionByToken(token: string | null): Session | undefined {
    return token ? this.live.state.sessions.find((s) => s.token === token) : undefined;
  }
}
