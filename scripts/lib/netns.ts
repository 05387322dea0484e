// Test and demo networks: namespaces this process makes and removes, joined by veth, with documentation addresses only.
//
//   nas (192.0.2.1, 2001:db8:1::1) ── lan ── router (192.0.2.254 | 203.0.113.254) ── wan ── remote (203.0.113.10..)
//
// The router is on the NAS's LAN (its address is a LAN source); the remote device is "the internet".
// With { cloud: true } a fourth namespace hangs off the router too: the portal (198.51.100.10, 2001:db8:3::10).
import { execFileSync, spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';

const created = new Set<string>();
let counter = 0;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function inNs(ns: string, program: string, args: string[], input?: string): string {
  return execFileSync('ip', ['netns', 'exec', ns, program, ...args], {
    encoding: 'utf8',
    input,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
}

export function addNamespace(name: string): string {
  ip('netns', 'add', name);
  created.add(name);
  ip('-n', name, 'link', 'set', 'lo', 'up');
  // No duplicate address detection: addresses (link-local ones too) are usable at once.
  inNs(name, 'sysctl', ['-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
  return name;
}

export function removeNamespace(name: string): void {
  try {
    ip('netns', 'del', name);
  } catch {
    // already gone
  }
  created.delete(name);
}

export function removeAllNamespaces(): void {
  for (const n of [...created]) removeNamespace(n);
}

// Whatever happens to the test run, the namespaces it made do not outlive it.
process.once('exit', removeAllNamespaces);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    // A program with its own handler (the demo) shuts down in order; the 'exit' hook above still cleans up.
    if (process.listenerCount(sig) > 1) return;
    removeAllNamespaces();
    process.exit(130);
  });
}

function macOf(ns: string, dev: string): string {
  const info = JSON.parse(ip('-n', ns, '-j', 'link', 'show', 'dev', dev)) as Array<{ address: string }>;
  return info[0].address;
}

/** In `ns` on `dev`, the given addresses of `peerNs`/`peerDev` are known neighbours from the start. */
function neighbours(ns: string, dev: string, peerNs: string, peerDev: string, addrs: string[]): void {
  const mac = macOf(peerNs, peerDev);
  for (const a of addrs) ip('-n', ns, 'neigh', 'replace', a, 'lladdr', mac, 'dev', dev, 'nud', 'permanent');
}

export interface Topology {
  nas: string;
  router: string;
  remote: string;
  /** The portal's namespace, when asked for. */
  cloud: string | null;
  cloudAddr: { 4: string; 6: string };
  /** /run/netns path of the NAS namespace, for the native helper. */
  nasPath: string;
  nasAddr: { 4: string; 6: string };
  routerAddr: { 4: string; 6: string };
  remoteAddr: { 4: string; 6: string };
  /**
   * Adds another source address to the remote device ("another device behind the internet"); an IPv6 address
   * outside the remote's 2001:db8:2::/64 (a device on another network) gets a route on the router too.
   */
  addRemoteAddress(addr: string): void;
  destroy(): void;
}

export function makeTopology(tag: string, opts: { cloud?: boolean } = {}): Topology {
  const base = `sipa-t${process.pid}-${++counter}-${tag}`.slice(0, 40);
  const nas = addNamespace(`${base}-nas`);
  const router = addNamespace(`${base}-rt`);
  const remote = addNamespace(`${base}-rem`);
  const cloud = opts.cloud ? addNamespace(`${base}-cloud`) : null;
  try {
    ip('-n', nas, 'link', 'add', 'lan0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', router);
    ip('-n', router, 'link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'wan0', 'netns', remote);
    const cfg: Array<[string, string, string[]]> = [
      [nas, 'lan0', ['192.0.2.1/24', '2001:db8:1::1/64']],
      [router, 'lan0', ['192.0.2.254/24', '2001:db8:1::fe/64']],
      [router, 'wan0', ['203.0.113.254/24', '2001:db8:2::fe/64']],
      [remote, 'wan0', ['203.0.113.10/24', '2001:db8:2::10/64']],
    ];
    for (const [ns, dev, addrs] of cfg) {
      for (const a of addrs) ip('-n', ns, 'addr', 'add', a, 'dev', dev, ...(a.includes(':') ? ['nodad'] : []));
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    ip('-n', nas, 'route', 'add', 'default', 'via', '192.0.2.254');
    ip('-n', nas, '-6', 'route', 'add', 'default', 'via', '2001:db8:1::fe');
    ip('-n', remote, 'route', 'add', 'default', 'via', '203.0.113.254');
    ip('-n', remote, '-6', 'route', 'add', 'default', 'via', '2001:db8:2::fe');
    inNs(router, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    // Static neighbours: the first IPv6 packet across the router is otherwise often lost to neighbour
    // discovery, and a test would see a 1 s retransmission where it measures something else.
    neighbours(nas, 'lan0', router, 'lan0', ['192.0.2.254', '2001:db8:1::fe']);
    neighbours(router, 'lan0', nas, 'lan0', ['192.0.2.1', '2001:db8:1::1']);
    neighbours(router, 'wan0', remote, 'wan0', ['203.0.113.10', '2001:db8:2::10']);
    neighbours(remote, 'wan0', router, 'wan0', ['203.0.113.254', '2001:db8:2::fe']);
    if (cloud) {
      ip('-n', router, 'link', 'add', 'dc0', 'type', 'veth', 'peer', 'name', 'dc0', 'netns', cloud);
      for (const [ns, a] of [[router, '198.51.100.254/24'], [router, '2001:db8:3::fe/64'], [cloud, '198.51.100.10/24'], [cloud, '2001:db8:3::10/64']]) {
        ip('-n', ns, 'addr', 'add', a, 'dev', 'dc0', ...(a.includes(':') ? ['nodad'] : []));
      }
      ip('-n', router, 'link', 'set', 'dc0', 'up');
      ip('-n', cloud, 'link', 'set', 'dc0', 'up');
      ip('-n', cloud, 'route', 'add', 'default', 'via', '198.51.100.254');
      ip('-n', cloud, '-6', 'route', 'add', 'default', 'via', '2001:db8:3::fe');
      neighbours(router, 'dc0', cloud, 'dc0', ['198.51.100.10', '2001:db8:3::10']);
      neighbours(cloud, 'dc0', router, 'dc0', ['198.51.100.254', '2001:db8:3::fe']);
    }
  } catch (e) {
    for (const n of [nas, router, remote, cloud]) if (n) removeNamespace(n);
    throw e;
  }
  return {
    nas,
    router,
    remote,
    cloud,
    cloudAddr: { 4: '198.51.100.10', 6: '2001:db8:3::10' },
    nasPath: `/run/netns/${nas}`,
    nasAddr: { 4: '192.0.2.1', 6: '2001:db8:1::1' },
    routerAddr: { 4: '192.0.2.254', 6: '2001:db8:1::fe' },
    remoteAddr: { 4: '203.0.113.10', 6: '2001:db8:2::10' },
    addRemoteAddress(addr: string) {
      ip('-n', remote, 'addr', 'add', addr.includes(':') ? `${addr}/64` : `${addr}/24`, 'dev', 'wan0',
        ...(addr.includes(':') ? ['nodad'] : []));
      neighbours(router, 'wan0', remote, 'wan0', [addr]);
      if (addr.includes(':') && !/^2001:db8:2:(:|0:)/.test(addr)) ip('-n', router, '-6', 'route', 'replace', `${addr}/128`, 'dev', 'wan0');
    },
    destroy() {
      for (const n of [cloud, remote, router, nas]) if (n) removeNamespace(n);
    },
  };
}

const PEER = path.join(__dirname, 'peer.js');

/** Starts the echo server inside a namespace; resolves once it listens. */
export async function startServer(ns: string, ports: number[]): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, PEER, 'serve', ...ports.map(String)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', code => reject(new Error(`server in ${ns} exited with ${code}`)));
    child.stdout!.once('data', () => resolve());
  });
  return child;
}

export type ConnectOutcome = 'connected' | 'refused' | 'reset' | 'timeout' | 'error';

/** Starts the QTS web UI stand-in (HTTP) inside a namespace. */
export async function startWebUi(ns: string, port: number): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, PEER, 'http', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', code => reject(new Error(`web UI in ${ns} exited with ${code}`)));
    child.stdout!.once('data', () => resolve());
  });
  return child;
}

/** One TCP connection attempt from a namespace; what the client saw. */
export function tryConnect(ns: string, host: string, port: number, opts: { from?: string; timeoutMs?: number } = {}): Promise<ConnectOutcome> {
  const args = [PEER, 'connect', host, String(port), String(opts.timeoutMs ?? 800)];
  if (opts.from) args.push(opts.from);
  return new Promise(resolve => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', d => (out += d));
    child.on('exit', () => resolve((out.trim() || 'error') as ConnectOutcome));
  });
}

/** A long-lived connection that pings every 50 ms; `dead` resolves with when and how it ended. */
export interface HeldConnection {
  connected: Promise<boolean>;
  dead: Promise<{ atMs: number; reason: string }>;
  stop(): void;
}

export function holdConnection(ns: string, host: string, port: number, from?: string): HeldConnection {
  return watchConnection(ns, [PEER, 'hold', host, String(port), ...(from ? [from] : [])]);
}

/**
 * Runs a connection-holding script inside a namespace (`node SCRIPT ARGS...`) that prints "connected" and later
 * "dead <epoch ms> <why>", and follows its life.
 */
export function watchConnection(ns: string, scriptAndArgs: string[]): HeldConnection {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...scriptAndArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  let onConnected: (v: boolean) => void = () => {};
  let onDead: (v: { atMs: number; reason: string }) => void = () => {};
  const connected = new Promise<boolean>(r => (onConnected = r));
  const dead = new Promise<{ atMs: number; reason: string }>(r => (onDead = r));
  child.stdout!.on('data', d => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line === 'connected') onConnected(true);
      const m = /^dead (\d+) (.*)$/.exec(line);
      if (m) {
        onConnected(false);
        onDead({ atMs: Number(m[1]), reason: m[2] });
      }
    }
  });
  child.on('exit', () => {
    onConnected(false);
    onDead({ atMs: Date.now(), reason: 'exited' });
  });
  return { connected, dead, stop: () => child.kill('SIGTERM') };
}

/** Snapshot of the host's own firewall and sets, to prove the tests never touched them. */
export function hostNetfilterSnapshot(): string {
  const parts: string[] = [];
  for (const [prog, args] of [['ipset', ['list', '-n']], ['iptables-legacy-save', []], ['ip6tables-legacy-save', []],
    ['iptables-nft-save', []], ['ip6tables-nft-save', []]] as const) {
    try {
      const out = execFileSync(prog, [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      parts.push(`## ${prog}\n${out.split('\n').filter(l => !l.startsWith('#')).join('\n')}`);
    } catch {
      parts.push(`## ${prog}: unavailable`);
    }
  }
  return parts.join('\n');
}

/** Connects from a namespace every `paceMs` for `ms`: how many attempts succeeded, were reset, went unanswered. */
export function probeConnections(ns: string, host: string, port: number, ms: number, paceMs = 0): Promise<{ ok: number; refused: number; timeout: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, PEER, 'probe', host, String(port), String(ms), String(paceMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout!.on('data', d => (out += d));
    child.on('exit', () => {
      const m = /ok (\d+) refused (\d+) timeout (\d+)/.exec(out);
      if (m) resolve({ ok: Number(m[1]), refused: Number(m[2]), timeout: Number(m[3]) });
      else reject(new Error(`probe printed: ${out}`));
    });
  });
}

/** Makes `count` UDP conntrack flows from `from` (an address of the namespace) to host:port. */
export function udpFlows(ns: string, host: string, port: number, from: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, PEER, 'udpflows', host, String(port), from, String(count)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.on('exit', code => (code === 0 ? resolve() : reject(new Error(`udpflows exited ${code}`))));
  });
}
