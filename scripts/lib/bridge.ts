// Reaching a service inside a test namespace from the host's loopback without touching the host's network:
// two halves joined by a unix socket (the file system is shared by every namespace).
//   host half (this process):   127.0.0.1:PORT  ──▶  unix socket PATH
//   namespace half (a child run with `ip netns exec NS`):  unix socket PATH  ──▶  HOST:PORT inside NS
// Usage of the child: node bridge.js unix-to-tcp PATH HOST PORT
import net from 'node:net';
import fs from 'node:fs';
import { spawn, ChildProcess } from 'node:child_process';

function pipeBoth(a: net.Socket, b: net.Socket): void {
  a.pipe(b);
  b.pipe(a);
  const end = () => {
    a.destroy();
    b.destroy();
  };
  a.on('error', end);
  b.on('error', end);
  a.on('close', end);
  b.on('close', end);
}

export interface Bridge {
  url: string;
  close(): void;
}

/** Serves host 127.0.0.1:listenPort and forwards each connection to host:port inside the namespace. */
export async function bridgeIntoNamespace(ns: string, host: string, port: number, listenPort: number, sockPath: string): Promise<Bridge> {
  fs.rmSync(sockPath, { force: true });
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, __filename, 'unix-to-tcp', sockPath, host, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', code => reject(new Error(`bridge into ${ns} exited with ${code}`)));
  });
  const server = net.createServer(client => pipeBoth(client, net.connect(sockPath)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    close() {
      server.close();
      child.kill();
      fs.rmSync(sockPath, { force: true });
    },
  };
}

if (require.main === module && process.argv[2] === 'unix-to-tcp') {
  const [sockPath, host, port] = process.argv.slice(3);
  fs.rmSync(sockPath, { force: true });
  net.createServer(inbound => pipeBoth(inbound, net.connect(Number(port), host)))
    .listen(sockPath, () => process.stdout.write('ready\n'));
}
