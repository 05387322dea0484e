// A download: the NAS sends and sends, the device only receives (scripts/lib/peer.ts `hold` is the other way
// round: the device talks and the NAS answers). Run inside namespaces:
//   node download.js serve PORT          on the NAS: writes 1 KiB every 5 ms to every client; prints "ready"
//   node download.js fetch HOST PORT [FROM]   on the device: prints "connected", later "dead <epoch ms> <why>"
import { spawn, ChildProcess } from 'node:child_process';
import net from 'node:net';

export async function startDownloadServer(ns: string, port: number): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, __filename, 'serve', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', code => reject(new Error(`download server in ${ns} exited with ${code}`)));
    child.stdout!.once('data', () => resolve());
  });
  return child;
}

export interface Download {
  connected: Promise<boolean>;
  dead: Promise<{ atMs: number; reason: string }>;
  stop(): void;
}

export function startDownload(ns: string, host: string, port: number, from?: string): Download {
  const args = [__filename, 'fetch', host, String(port), ...(from ? [from] : [])];
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
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

if (require.main === module) {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'serve') {
    net.createServer(sock => {
      sock.on('error', () => sock.destroy());
      const timer = setInterval(() => sock.write(Buffer.alloc(1024, 0x61)), 5);
      sock.on('close', () => clearInterval(timer));
      sock.resume();
    }).listen({ port: Number(args[0]), host: '::', ipv6Only: false }, () => process.stdout.write('ready\n'));
  } else if (mode === 'fetch') {
    const [host, port, from] = args;
    const sock = net.connect({ host, port: Number(port), localAddress: from });
    let last = Date.now();
    const die = (why: string) => {
      process.stdout.write(`dead ${Date.now()} ${why}\n`);
      sock.destroy();
      process.exit(0);
    };
    sock.on('connect', () => {
      process.stdout.write('connected\n');
      // nothing received for 400 ms on a link with sub-millisecond latency: the flow is gone even without a reset
      setInterval(() => { if (Date.now() - last > 400) die('silent'); }, 50);
    });
    sock.on('data', () => (last = Date.now()));
    sock.on('error', (e: NodeJS.ErrnoException) => die(e.code ?? 'error'));
    sock.on('close', () => die('closed'));
    sock.setTimeout(3000, () => die('connect-timeout'));
  }
}
