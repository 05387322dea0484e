// Where a panel request comes from, for the lockout warning. Behind the QTS web server's proxy every request
// arrives from loopback, and the proxy appends the client's address to X-Forwarded-For; so that header is
// believed only when the TCP peer is loopback, and then only its last entry (the one our proxy wrote).
import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import { networkContains, parseNetwork, IpNetwork } from '../domain';

function unmap(addr: string): string {
  return addr.startsWith('::ffff:') && net.isIPv4(addr.slice(7)) ? addr.slice(7) : addr;
}

export function isLoopback(addr: string): boolean {
  return addr === '::1' || (net.isIPv4(addr) && addr.startsWith('127.'));
}

/** The client's address; null when it cannot be told (then it is neither LAN nor registered). */
export function remoteAddressOf(req: IncomingMessage): string | null {
  const peer = req.socket.remoteAddress ? unmap(req.socket.remoteAddress) : null;
  if (!peer || !isLoopback(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const list = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map(s => s.trim()).filter(Boolean);
  if (list.length === 0) return peer;
  // A header our proxy wrote but that names no address: unknown, never "loopback" (that would count as LAN).
  const last = unmap(list[list.length - 1]);
  return net.isIP(last) ? last : null;
}

function host(addr: string): IpNetwork | null {
  try {
    return parseNetwork(addr);
  } catch {
    return null;
  }
}

/** True when the address is loopback or inside one of the LAN networks (never blocked). */
export function isLanAddress(addr: string, lanNetworks: string[]): boolean {
  if (isLoopback(addr)) return true;
  const a = host(addr);
  if (!a) return false;
  return lanNetworks.some(text => {
    const n = host(text);
    return n !== null && networkContains(n, a);
  });
}
