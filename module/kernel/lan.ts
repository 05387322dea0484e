// The LAN networks, learned from the interfaces over rtnetlink (npm `netlink`) and kept current: the LAN is
// never blocked, so whatever network the NAS sits on directly is exempt.
import { EventEmitter } from 'node:events';
import { createRtNetlink, RtNetlinkSocket } from 'netlink';
import { formatAddress, maskBytes } from '../domain';

export interface LanNetwork {
  family: 4 | 6;
  /** Network bytes (host bits cleared). */
  bytes: Uint8Array;
  prefix: number;
  text: string;
}

const RT_SCOPE_HOST = 254;
const AF_INET = 2;
const AF_INET6 = 10;

/** Networks of the interface addresses in rtnetlink address messages (loopback and link-local left out). */
export function networksOf(messages: Array<{ data: { family?: number; prefixlen?: number; scope?: number }; attrs: { address?: Buffer; local?: Buffer } }>): LanNetwork[] {
  const seen = new Map<string, LanNetwork>();
  for (const m of messages) {
    const family = m.data.family === AF_INET ? 4 : m.data.family === AF_INET6 ? 6 : null;
    const raw = m.attrs.local ?? m.attrs.address;
    const prefix = m.data.prefixlen ?? 0;
    if (!family || !raw || raw.length !== (family === 4 ? 4 : 16) || prefix === 0) continue;
    if (m.data.scope === RT_SCOPE_HOST) continue;
    if (family === 6 && raw[0] === 0xfe && (raw[1] & 0xc0) === 0x80) continue; // fe80::/10 is exempt anyway
    const bytes = maskBytes(Uint8Array.from(raw), prefix);
    const text = formatAddress(family, bytes, prefix);
    if (!seen.has(text)) seen.set(text, { family, bytes, prefix, text: prefix === (family === 4 ? 32 : 128) ? `${text}/${prefix}` : text });
  }
  return [...seen.values()].sort((a, b) => a.text.localeCompare(b.text));
}

/**
 * Watches interface addresses. `openSocket` runs inside the enforcement namespace when there is one (the socket
 * stays there). Emits 'change' with the new list when the set of networks changes.
 */
export class LanWatcher extends EventEmitter {
  private socket: RtNetlinkSocket | null = null;
  private networks: LanNetwork[] = [];
  private refreshing: Promise<void> | null = null;

  constructor(private readonly inNamespace: <T>(fn: () => T) => T = fn => fn()) {
    super();
  }

  current(): LanNetwork[] {
    return this.networks;
  }

  async start(): Promise<LanNetwork[]> {
    this.socket = this.inNamespace(() => createRtNetlink({ ref: false, recvBufferSize: 1 << 20, sendBufferSize: 1 << 16 }));
    this.socket.socket.on('error', (err: Error) => this.emit('error', err));
    this.socket.addMembership('IPV4_IFADDR');
    this.socket.addMembership('IPV6_IFADDR');
    this.socket.on('message', () => void this.refresh());
    await this.refresh();
    return this.networks;
  }

  /** Re-reads every address; coalesces bursts of notifications into one dump. */
  refresh(): Promise<void> {
    if (this.refreshing) return this.refreshing;
    this.refreshing = (async () => {
      try {
        if (!this.socket) return;
        const addrs = await this.socket.getAddresses();
        const next = networksOf(addrs as unknown as Parameters<typeof networksOf>[0]);
        const changed = next.map(n => n.text).join() !== this.networks.map(n => n.text).join();
        this.networks = next;
        if (changed) this.emit('change', next);
      } catch (err) {
        this.emit('error', err);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  stop(): void {
    this.socket?.socket.close();
    this.socket = null;
  }
}
