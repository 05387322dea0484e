// A tiny network peer run inside test namespaces (`ip netns exec NS node peer.js ...`):
//   serve PORT...                 TCP echo servers on every address; prints "ready"
//   http PORT                     a web page on every address (the QTS web UI stand-in); prints "ready"
//   connect HOST PORT MS [FROM]   one attempt; prints connected | refused | reset | timeout | error
//   probe HOST PORT MS PACE       connects every PACE ms; prints "ok N refused R timeout T"
//   udpflows HOST PORT FROM N     one datagram from each of N source ports: N conntrack flows
//   hold HOST PORT [FROM]         connects, pings every 50 ms; prints "connected", later "dead <epoch ms> <why>"
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'serve') {
  let pending = args.length;
  for (const port of args.map(Number)) {
    const server = net.createServer(sock => {
      sock.on('error', () => sock.destroy());
      sock.pipe(sock);
    });
    server.listen({ port, host: '::', ipv6Only: false }, () => {
      if (--pending === 0) process.stdout.write('ready\n');
    });
  }
} else if (mode === 'http') {
  // A small web service standing in for the QTS web UI: any GET answers a page.
  const port = Number(args[0]);
  http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end('<!doctype html><title>QTS</title><h1>QTS web UI (stand-in)</h1><p>You reached the NAS from ' +
      String(req.socket.remoteAddress).replace('::ffff:', '') + '.</p>');
  }).listen({ port, host: '::', ipv6Only: false }, () => process.stdout.write('ready\n'));
} else if (mode === 'connect') {
  const [host, port, ms, from] = args;
  const sock = net.connect({ host, port: Number(port), localAddress: from });
  const done = (what: string) => {
    process.stdout.write(`${what}\n`);
    sock.destroy();
    process.exit(0);
  };
  sock.setTimeout(Number(ms), () => done('timeout'));
  sock.on('connect', () => done('connected'));
  sock.on('error', (e: NodeJS.ErrnoException) =>
    done(e.code === 'ECONNREFUSED' ? 'refused' : e.code === 'ECONNRESET' ? 'reset' : e.code === 'EHOSTUNREACH' ? 'refused' : 'error'));
} else if (mode === 'hold') {
  const [host, port, from] = args;
  const sock = net.connect({ host, port: Number(port), localAddress: from });
  let lastEcho = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const die = (why: string) => {
    process.stdout.write(`dead ${Date.now()} ${why}\n`);
    if (timer) clearInterval(timer);
    sock.destroy();
    process.exit(0);
  };
  sock.on('connect', () => {
    process.stdout.write('connected\n');
    timer = setInterval(() => {
      // No echo for 400 ms on a link with sub-millisecond latency: the flow is gone even without a reset.
      if (Date.now() - lastEcho > 400) die('silent');
      sock.write('x');
    }, 50);
  });
  sock.on('data', () => (lastEcho = Date.now()));
  sock.on('error', (e: NodeJS.ErrnoException) => die(e.code ?? 'error'));
  sock.on('close', () => die('closed'));
  sock.setTimeout(3000, () => die('connect-timeout'));
} else if (mode === 'probe') {
  // Connects again and again for MS milliseconds, one at a time, every PACE ms; prints
  // "ok N refused R timeout T": refused = the NAS answered with a reset, timeout = no answer in 500 ms.
  const [host, port, ms, pace] = args;
  const until = Date.now() + Number(ms);
  const counts = { ok: 0, refused: 0, timeout: 0 };
  const next = () => setTimeout(once, Number(pace ?? 0));
  const once = () => {
    if (Date.now() >= until) {
      process.stdout.write(`ok ${counts.ok} refused ${counts.refused} timeout ${counts.timeout}\n`);
      process.exit(0);
    }
    const sock = net.connect({ host, port: Number(port) });
    sock.setTimeout(500, () => { counts.timeout++; sock.destroy(); next(); });
    sock.on('connect', () => { counts.ok++; sock.destroy(); next(); });
    sock.on('error', () => { counts.refused++; sock.destroy(); next(); });
  };
  once();
} else if (mode === 'udpflows') {
  // One datagram from each of COUNT source ports (from 20000 up) of address FROM: COUNT conntrack flows.
  const [host, port, from, count] = args;
  let left = Number(count);
  let next = 20000;
  const one = () => {
    if (left-- <= 0) {
      process.stdout.write('sent\n');
      process.exit(0);
    }
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.bind({ address: from, port: next++ }, () => {
      sock.send('x', Number(port), host, () => {
        sock.close();
        setImmediate(one);
      });
    });
  };
  one();
} else {
  process.stderr.write('usage: peer.js serve|connect|hold ...\n');
  process.exit(2);
}
