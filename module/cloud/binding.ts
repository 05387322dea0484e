// The binding of this NAS to a portal: stored as one setting, read at start.
import type { Store } from '../store';

export const BINDING_SETTING = 'portal.binding';

export interface Binding {
  v: 1;
  portalUrl: string;
  nasId: string;
  qnapId: string;
  nasName: string;
  nasPublicKey: string;
  /** Ed25519 seed, base64url. Stays on the NAS. */
  nasPrivateKey: string;
  /** Pinned at binding; every portal message must verify with it. */
  portalPublicKey: string;
  boundAt: number;
}

export async function loadBinding(store: Pick<Store, 'getSetting'>): Promise<Binding | null> {
  const b = await store.getSetting<Record<string, string | number>>(BINDING_SETTING);
  if (!b || typeof b !== 'object' || b.v !== 1) return null;
  return b as unknown as Binding;
}

/** http(s) URL without trailing slash; plain http only to loopback unless allowed. Returns an error sentence or the URL. */
export function checkPortalUrl(text: string, insecureHttp: boolean): { url: string } | { error: string } {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return { error: `portal URL ${JSON.stringify(text)} is not a URL (give e.g. https://portal.example.com)` };
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return { error: `portal URL ${JSON.stringify(text)} must be https:// (or http:// for a dev portal)` };
  if (u.username || u.password || u.search || u.hash) return { error: `portal URL ${JSON.stringify(text)} must not carry credentials, a query or a fragment` };
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (u.protocol === 'http:' && !loopback && !insecureHttp) {
    return { error: `portal URL ${JSON.stringify(text)} is plain http to a non-loopback host; use https, or set portal.insecureHttp for a dev portal` };
  }
  return { url: `${u.origin}${u.pathname.replace(/\/+$/, '')}` };
}
