// Who owns the socket that listens on a loopback port, from /proc/net/tcp and /proc/net/tcp6 (the process's own
// network namespace). Their columns: sl, local address:port, remote address:port, state, queues, timer,
// retransmits, uid, timeout, inode. For a LISTEN socket (state 0A) the uid is the owner of the socket's inode:
// the effective uid of the process that created it. An unprivileged process cannot make a socket whose uid
// is 0, and the kernel refuses a second listener on an address and port already listened on (SO_REUSEPORT only
// between sockets of the same uid), so "every listener that could take the connection belongs to root" is a
// check no other user can satisfy.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Listener {
  /** The socket's inode: a new socket is a new inode. */
  inode: string;
  uid: number;
  /** The local address as the kernel reports it, e.g. 127.0.0.1 or :: */
  address: string;
}

export type LoopbackTarget = '127.0.0.1' | '::1';

const LISTEN = '0A';
const LITTLE_ENDIAN = os.endianness() === 'LE';

/** The kernel prints each 32-bit word of an address in host byte order. */
function addressBytes(hex: string): Buffer {
  const b = Buffer.from(hex, 'hex');
  if (LITTLE_ENDIAN) for (let i = 0; i < b.length; i += 4) b.subarray(i, i + 4).reverse();
  return b;
}

/** Dotted IPv4; IPv6 as `::`, `::1`, `::ffff:a.b.c.d`, or else eight uncompressed groups (only compared). */
function addressText(b: Buffer): string {
  if (b.length === 4) return [...b].join('.');
  const zeroUpTo = (n: number) => b.subarray(0, n).every(x => x === 0);
  if (zeroUpTo(16)) return '::';
  if (zeroUpTo(15) && b[15] === 1) return '::1';
  if (zeroUpTo(10) && b[10] === 0xff && b[11] === 0xff) return `::ffff:${[...b.subarray(12)].join('.')}`;
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i).toString(16));
  return words.join(':');
}

/** Local addresses whose listeners would take a connection to the target. */
function reaches(target: LoopbackTarget, address: string): boolean {
  if (target === '127.0.0.1') return ['127.0.0.1', '0.0.0.0', '::', '::ffff:127.0.0.1', '::ffff:0.0.0.0'].includes(address);
  return address === '::1' || address === '::';
}

function tableRows(file: string): string[][] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []; // no IPv6 in this kernel
    throw e;
  }
  return text.split('\n').slice(1).map(l => l.trim().split(/\s+/)).filter(f => f.length >= 10);
}

/** Every LISTEN socket on the port that a connection to the target could reach. */
export function listenersFor(port: number, target: LoopbackTarget, procNet = '/proc/net'): Listener[] {
  const out: Listener[] = [];
  for (const file of ['tcp', 'tcp6']) {
    for (const f of tableRows(path.join(procNet, file))) {
      if (f[3] !== LISTEN) continue;
      const [addrHex, portHex] = f[1].split(':');
      if (parseInt(portHex, 16) !== port) continue;
      const address = addressText(addressBytes(addrHex));
      if (!reaches(target, address)) continue;
      out.push({ inode: f[9], uid: Number(f[7]), address });
    }
  }
  return out;
}
