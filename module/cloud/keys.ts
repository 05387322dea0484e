// Ed25519 keys and signatures (PROTOCOL.md §1). Keys travel as base64url of their raw 32 bytes.
import crypto from 'node:crypto';
import { canonicalJson } from './canonical';

export type SignerRole = 'portal' | 'nas';

export interface KeyPair {
  /** base64url, 32 bytes */
  publicKey: string;
  /** base64url, the 32-byte seed (JWK "d") */
  privateKey: string;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

export function generateKeyPair(): KeyPair {
  const { privateKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { publicKey: jwk.x as string, privateKey: jwk.d as string };
}

/** The public half of a private key (seed). */
export function publicKeyOf(privateKey: string): string {
  return crypto.createPublicKey(privateKeyObject(privateKey)).export({ format: 'jwk' }).x as string;
}

/** PKCS#8 (RFC 8410) of an Ed25519 key up to its 32-byte seed. */
const ED25519_PKCS8_HEAD = Buffer.from('302e020100300506032b657004220420', 'hex');

function privateKeyObject(privateKey: string): crypto.KeyObject {
  // From the seed alone: a JWK would need the public half "x" too, and Node 24 checks it (20 did not).
  return crypto.createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_HEAD, Buffer.from(privateKey, 'base64url')]), format: 'der', type: 'pkcs8' });
}

export function isKeyText(text: unknown): text is string {
  return typeof text === 'string' && text.length === 43 && B64URL.test(text);
}

/** The bytes a signature covers: role prefix, then the canonical JSON of the message without `sig`. */
export function signedBytes(role: SignerRole, message: Record<string, unknown>): Buffer {
  const { sig: _omit, ...rest } = message;
  return Buffer.from(`sipa-v1 ${role}\n${canonicalJson(rest)}`, 'utf8');
}

export function signMessage<T extends Record<string, unknown>>(role: SignerRole, message: T, privateKey: string): T & { sig: string } {
  const sig = crypto.sign(null, signedBytes(role, message), privateKeyObject(privateKey)).toString('base64url');
  return { ...message, sig };
}

/** True only for a well-formed signature by `publicKey` over the message; never throws. */
export function verifyMessage(role: SignerRole, message: Record<string, unknown>, publicKey: string): boolean {
  try {
    const sig = message.sig;
    if (typeof sig !== 'string' || sig.length !== 86 || !B64URL.test(sig) || !isKeyText(publicKey)) return false;
    const key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
    return crypto.verify(null, signedBytes(role, message), key, Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}

export function randomToken(bytes: number): string {
  return crypto.randomBytes(bytes).toString('base64url');
}
