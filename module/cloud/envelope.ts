// Verification of portal command envelopes (PROTOCOL.md §5): pure, no I/O. The caller supplies the last
// accepted sequence number and the portal's time as the NAS estimates it.
import { duplicateMember } from './canonical';
import { verifyMessage } from './keys';
import { check } from './schemas';

export const MAX_ENVELOPE_BYTES = 65536;
/** Longest validity an envelope may claim (expiresAt − issuedAt). */
export const MAX_ENVELOPE_LIFETIME_MS = 3_600_000;

export const COMMAND_TYPES = ['register', 'revoke', 'session-ended', 'lease-renew', 'resync', 'batch', 'register-device', 'add-address'] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

export interface Envelope {
  v: 1;
  nasId: string;
  seq: number;
  issuedAt: number;
  expiresAt: number;
  nonce: string;
  type: CommandType;
  body: Record<string, unknown>;
  sig: string;
}

export type RefusalCode =
  | 'too_large' | 'malformed' | 'unsupported_version' | 'bad_signature' | 'wrong_nas' | 'replayed'
  | 'expired' | 'future' | 'unknown_type' | 'bad_body';

export interface Refusal {
  code: RefusalCode;
  message: string;
  /** Known once the envelope could be read: an ack can name it. */
  seq: number | null;
  type: string | null;
}

export interface VerifyContext {
  nasId: string;
  portalPublicKey: string;
  /** Last accepted sequence number, 0 if none. */
  lastSeq: number;
  /** The portal's time as the NAS estimates it (ms). */
  portalNow: number;
  skewMs: number;
}

export type Verified = { ok: true; envelope: Envelope } | { ok: false; refusal: Refusal };

function refuse(code: RefusalCode, message: string, env?: Record<string, unknown>): Verified {
  const seq = env && Number.isSafeInteger(env.seq) ? (env.seq as number) : null;
  const type = env && typeof env.type === 'string' ? env.type.slice(0, 32) : null;
  return { ok: false, refusal: { code, message, seq, type } };
}

/** Runs every check of PROTOCOL.md §5 in order; the first failure is the answer. */
export function verifyEnvelope(raw: string | Buffer, ctx: VerifyContext): Verified {
  const bytes = typeof raw === 'string' ? Buffer.byteLength(raw, 'utf8') : raw.length;
  if (bytes > MAX_ENVELOPE_BYTES) return refuse('too_large', `envelope of ${bytes} bytes is over the ${MAX_ENVELOPE_BYTES}-byte limit`);
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return refuse('malformed', `envelope is not JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return refuse('malformed', 'envelope is not a JSON object');
  const env = parsed as Record<string, unknown>;
  // The signature covers one reading of the text; a second member of one name allows another.
  const twice = duplicateMember(text);
  if (twice !== null) return refuse('malformed', `envelope has the member "${twice}" more than once`, env);
  if (env.v !== 1) return refuse('unsupported_version', `envelope version ${JSON.stringify(env.v ?? null)} is not supported (this NAS speaks 1)`, env);
  const shape = check('envelope', undefined, env, 'envelope');
  if (shape) return refuse('malformed', shape, env);
  if (!verifyMessage('portal', env, ctx.portalPublicKey)) return refuse('bad_signature', 'signature does not verify with the pinned portal key', env);
  const e = env as unknown as Envelope;
  if (e.nasId !== ctx.nasId) return refuse('wrong_nas', `envelope is for NAS ${e.nasId}, this NAS is ${ctx.nasId}`, env);
  if (e.seq <= ctx.lastSeq) return refuse('replayed', `sequence ${e.seq} is not after the last accepted ${ctx.lastSeq}`, env);
  if (e.expiresAt <= e.issuedAt || e.expiresAt - e.issuedAt > MAX_ENVELOPE_LIFETIME_MS) {
    return refuse('malformed', `envelope validity ${e.issuedAt}..${e.expiresAt} is empty or longer than ${MAX_ENVELOPE_LIFETIME_MS / 1000}s`, env);
  }
  if (e.expiresAt < ctx.portalNow - ctx.skewMs) {
    return refuse('expired', `envelope expired ${Math.round((ctx.portalNow - e.expiresAt) / 1000)}s ago (portal time)`, env);
  }
  if (e.issuedAt > ctx.portalNow + ctx.skewMs) {
    return refuse('future', `envelope is dated ${Math.round((e.issuedAt - ctx.portalNow) / 1000)}s ahead of the portal's time`, env);
  }
  if (!(COMMAND_TYPES as readonly string[]).includes(e.type)) return refuse('unknown_type', `unknown command type "${e.type}"`, env);
  const body = check('commands', e.type, e.body, 'body');
  if (body) return refuse('bad_body', body, env);
  return { ok: true, envelope: e };
}
