// A download: the NAS sends and sends, the device only receives (scripts/lib/peer.ts `hold` is the other way
// round: the device talks and the NAS answers). Run inside namespaces:
//   node download.js serve PORT          on the NAS: writes 1 KiB every 5 ms to every client; prints "ready"
//   node download.js fetch HOST PORT [FROM]   on the device: prints "connected", later "dead <epoch ms> <why>"
import { spawn, ChildProcess } from 'node:child_process';
import net from 'node:net';
import { HeldConnection, watchConnection } from '../../scripts/lib/netns';

export async function startDownloadServer(ns: string, port: number): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, __filename, 'serve', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', code => reject(new Error(`download server in ${ns} exited with ${code}`)));
    child.stdout!.once('data', () => resolve());
  });
  return child;
}

export type Download = HeldConnection;

export function startDownload(ns: string, host: string, port: number, from?: string): Download {
  return watchConnection(ns, [__filename, 'fetch', host, String(port), ...(from ? [from] : [])]);
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
