// `npm run bench`: the kernel path's speed, measured in a namespace of its own against baselines in the same
// run. Prints a table and one JSON line per figure: {"name", "n", "value", "unit"}. Not a test: no limits here.
import { ChildProcess, execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { addNamespace, inNs, makeTopology, removeNamespace, startServer, Topology, udpFlows } from './lib/netns';
import { KernelEntry, loadNative, NetlinkHandle } from '../module/kernel/native';
import { IpsetManager, hashsizeFor } from '../module/kernel/ipset';
import { Firewall } from '../module/kernel/firewall';
import { commandRunner } from '../module/kernel/command';

interface Figure { name: string; n: number; value: number; unit: 'ms' | 'us' | 'x' | 'conn/s' | 'Gbit/s' | 'us/conn' | 'ms/GB' }
const figures: Figure[] = [];
function record(name: string, n: number, value: number, unit: Figure['unit']): number {
  const f = { name, n, value: Math.round(value * 1000) / 1000, unit };
  figures.push(f);
  process.stdout.write(`${JSON.stringify(f)}\n`);
  return value;
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const addr = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const entries = (n: number): KernelEntry[] =>
  Array.from({ length: n }, (_, i) => ({ op: 'add', family: 4, bytes: Uint8Array.from([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]), prefix: 32, timeout: 3600 }));
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const best = (runs: number, fn: () => number) => Math.min(...Array.from({ length: runs }, fn));

const SIZES = [1000, 10000, 65536];
const CEILING = path.resolve(__dirname, '..', '..', 'native', 'build', 'x86_64', 'ceiling');
const TCPLOAD = path.resolve(__dirname, '..', '..', 'native', 'build', 'x86_64', 'tcpload');
const median = (xs: number[]) => percentile(xs, 0.5);

function loads(ns: string, sets: IpsetManager): void {
  const spec = (name: string) => ({ name, family: 4 as const, hashsize: hashsizeFor(65536), maxelem: 65536, timeout: true });
  for (const n of SIZES) {
    const batch = entries(n);
    const helper = best(5, () => {
      sets.destroy('bench');
      sets.ensure(spec('bench'));
      const t0 = process.hrtime.bigint();
      const r = sets.apply('bench', batch);
      const took = ms(t0);
      if (r.applied !== n) throw new Error(`helper applied ${r.applied} of ${n}`);
      return took;
    });
    record('load.helper', n, helper, 'ms');

    const ceiling = best(5, () => {
      sets.destroy('bench');
      sets.ensure(spec('bench'));
      const out = execFileSync(CEILING, [`/run/netns/${ns}`, 'bench', String(n)], { encoding: 'utf8' });
      return Number(out.trim()) / 1000;
    });
    record('load.ceiling', n, ceiling, 'ms');

    // ipset restore at its fastest: a create line of the same size first, -exist, one process.
    const text = [`create bench hash:net family inet hashsize ${hashsizeFor(65536)} maxelem 65536 timeout 0`,
      ...Array.from({ length: n }, (_, i) => `add bench ${addr(i)} timeout 3600`), ''].join('\n');
    const restore = best(5, () => {
      sets.destroy('bench');
      const t0 = process.hrtime.bigint();
      const r = spawnSync('ip', ['netns', 'exec', ns, 'ipset', 'restore', '-exist'], { input: text });
      const took = ms(t0);
      if (r.status !== 0) throw new Error(`ipset restore: ${r.stderr}`);
      return took;
    });
    record('load.ipset-restore', n, restore, 'ms');

    if (n === 65536) {
      record('ratio.helper-vs-ceiling', n, helper / ceiling, 'x');
      record('ratio.restore-vs-helper', n, restore / helper, 'x');
    }
  }
  // One `ipset add` process per entry, as scripts often do.
  sets.destroy('bench');
  sets.ensure(spec('bench'));
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < 1000; i++) execFileSync('ip', ['netns', 'exec', ns, 'ipset', 'add', 'bench', addr(i), 'timeout', '3600']);
  record('load.ipset-add', 1000, ms(t0), 'ms');
  sets.destroy('bench');
}

function latency(sets: IpsetManager): void {
  sets.ensure({ name: 'bench', family: 4, hashsize: hashsizeFor(65536), maxelem: 65536, timeout: true });
  const add: number[] = [];
  const del: number[] = [];
  for (let i = 0; i < 10000; i++) {
    const e = entries(1)[0];
    e.bytes[3] = i & 255;
    e.bytes[2] = (i >> 8) & 255;
    let t0 = process.hrtime.bigint();
    sets.apply('bench', [e]);
    add.push(Number(process.hrtime.bigint() - t0) / 1000);
    t0 = process.hrtime.bigint();
    sets.apply('bench', [{ ...e, op: 'del' }]);
    del.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  record('add.p50', 10000, percentile(add, 0.5), 'us');
  record('add.p99', 10000, percentile(add, 0.99), 'us');
  record('del.p50', 10000, percentile(del, 0.5), 'us');
  record('del.p99', 10000, percentile(del, 0.99), 'us');
  sets.destroy('bench');
}

async function conntrack(): Promise<void> {
  const net = makeTopology('bench');
  const lib = loadNative();
  const nl = lib.open(net.nasPath);
  try {
    // conntrack only tracks once a rule needs it: install the real chain, and allow the senders.
    const sets = new IpsetManager(nl, lib.strerror);
    const names = { chain: 'SIPA_INPUT', allow: { 4: 'sipa4_allow', 6: 'sipa6_allow' }, lan: { 4: 'sipa4_lan', 6: 'sipa6_lan' } } as const;
    for (const f of [4, 6] as const) {
      sets.ensure({ name: names.allow[f], family: f, hashsize: 1024, maxelem: 65536, timeout: true });
      sets.ensure({ name: names.lan[f], family: f, hashsize: 1024, maxelem: 4096, timeout: false });
    }
    await new Firewall(commandRunner(net.nas)).install(4, { names, protect: 'all', action: 'drop' });
    const senders = Array.from({ length: 40 }, (_, i) => `203.0.113.${20 + i}`);
    for (const s of senders) net.addRemoteAddress(s);
    sets.apply('sipa4_allow', senders.map(s => ({ op: 'add', family: 4, bytes: Uint8Array.from(s.split('.').map(Number)), prefix: 32, timeout: 600 })));
    const server = await startServer(net.nas, [9]);
    for (const s of senders) await udpFlows(net.remote, net.nasAddr[4], 9, s, 250);
    const total = Number(inNs(net.nas, 'conntrack', ['-C']).trim());
    const victim = Uint8Array.from([203, 0, 113, 20]);
    const t0 = process.hrtime.bigint();
    const cut = nl.cutFlows(4, [{ bytes: victim, prefix: 32 }]);
    record('ct.cut', total, ms(t0), 'ms');
    const t1 = process.hrtime.bigint();
    inNs(net.nas, 'conntrack', ['-D', '-s', '203.0.113.21']);
    record('ct.conntrack-D', total, ms(t1), 'ms');
    process.stdout.write(`(conntrack table: ${total} flows; the helper cut ${cut} of one source)\n`);
    server.kill();
  } finally {
    nl.close();
    net.destroy();
  }
}

interface Side {
  net: Topology;
  nl: NetlinkHandle;
  server: ChildProcess | null;
  enforce(on: boolean): Promise<void>;
  /** Runs a tcpload client in the remote namespace: the numbers it prints. */
  load(args: string[]): Promise<number[]>;
}

/** A NAS namespace with the sets filled (65,536 allow entries, the device's among them) and a tcpload server. */
async function perPacketSide(tag: string): Promise<Side> {
  const net = makeTopology(tag);
  const lib = loadNative();
  const side: Side = { net, nl: lib.open(net.nasPath), server: null, enforce: async () => {}, load: async () => [] };
  const sets = new IpsetManager(side.nl, lib.strerror);
  const names = { chain: 'SIPA_INPUT', allow: { 4: 'sipa4_allow', 6: 'sipa6_allow' }, lan: { 4: 'sipa4_lan', 6: 'sipa6_lan' } };
  for (const f of [4, 6] as const) {
    sets.ensure({ name: names.allow[f], family: f, hashsize: hashsizeFor(65536), maxelem: 65536, timeout: true });
    sets.ensure({ name: names.lan[f], family: f, hashsize: 1024, maxelem: 4096, timeout: false });
  }
  sets.apply(names.lan[4], [{ op: 'add', family: 4, bytes: Uint8Array.from([192, 0, 2, 0]), prefix: 24, timeout: 0 }]);
  const allowed = [...entries(65535), { op: 'add' as const, family: 4 as const, bytes: Uint8Array.from([203, 0, 113, 10]), prefix: 32, timeout: 3600 }];
  const loaded = sets.apply(names.allow[4], allowed);
  if (loaded.applied !== 65536) throw new Error(`allow set holds ${loaded.applied} entries`);
  // Conntrack runs on a NAS whatever this module does (QTS's own rules and NAT use it): in both arms here too.
  inNs(net.nas, 'iptables-legacy', ['-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT']);
  // Tens of thousands of short connections: free their conntrack entries and ports soon after they close.
  inNs(net.nas, 'sysctl', ['-qw', 'net.netfilter.nf_conntrack_tcp_timeout_time_wait=1']);
  inNs(net.remote, 'sysctl', ['-qw', 'net.ipv4.ip_local_port_range=1024 65535']);
  const firewall = new Firewall(commandRunner(net.nas));
  const plan = { names, protect: 'all' as const, action: 'drop' as const };
  side.enforce = on => (on ? firewall.install(4, plan) : firewall.remove(4, plan));
  side.load = args => new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', net.remote, TCPLOAD, ...args], (err, out) => (err ? reject(err) : resolve(String(out).trim().split(' ').map(Number))));
  });
  side.server = spawn('ip', ['netns', 'exec', net.nas, TCPLOAD, 'serve', '5001'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    side.server!.once('exit', code => reject(new Error(`tcpload serve exited with ${code}`)));
    side.server!.stdout!.once('data', () => resolve());
  });
  return side;
}

/**
 * What the chains cost per packet: TCP connections per second and bulk throughput from the remote device to the
 * NAS and back, with 65,536 entries in the allow set, chain against no chain, in pairs of 1 s rounds (which arm
 * goes first alternates); each ratio is the median of the pairs' own ratios. The machine is shared and its load
 * drifts by more than the difference looked for, which moves rates more than costs: so each round also counts the
 * CPU time the client and the server spent per connection or per GB, the kernel's work on their packets included.
 */
async function perPacket(): Promise<void> {
  let side: Side | null = null;
  try {
    side = await perPacketSide('pkt');
    const s = side;
    const PAIRS = 20;
    const ROUND_S = 1;
    const serverCpu = async () => s.load(['cpu', s.net.nasAddr[4], '5001']).then(v => v[0]);
    const kinds: Array<[string, 'conn/s' | 'Gbit/s', 'us/conn' | 'ms/GB', string[], (rate: number) => { shown: number; units: number }]> = [
      ['pkt.tcp-connections', 'conn/s', 'us/conn', ['conn', s.net.nasAddr[4], '5001', String(ROUND_S), '32'],
        rate => ({ shown: rate, units: (rate * ROUND_S) / 1e6 })],
      ['pkt.bulk-to-nas', 'Gbit/s', 'ms/GB', ['up', s.net.nasAddr[4], '5001', String(ROUND_S)],
        rate => ({ shown: (rate * 8) / 1e9, units: (rate * ROUND_S) / 1e9 / 1e3 })],
      ['pkt.bulk-from-nas', 'Gbit/s', 'ms/GB', ['down', s.net.nasAddr[4], '5001', String(ROUND_S)],
        rate => ({ shown: (rate * 8) / 1e9, units: (rate * ROUND_S) / 1e9 / 1e3 })],
    ];
    for (const [name, rateUnit, costUnit, args, scale] of kinds) {
      const rate = { none: [] as number[], chain: [] as number[] };
      const cost = { none: [] as number[], chain: [] as number[] };
      const rateRatios: number[] = [];
      const costRatios: number[] = [];
      for (let r = 0; r < PAIRS; r++) {
        for (const arm of (r % 2 ? ['chain', 'none'] : ['none', 'chain']) as Array<'none' | 'chain'>) {
          await s.enforce(arm === 'chain');
          await new Promise(res => setTimeout(res, 200)); // the previous round's closing connections settle
          const before = await serverCpu();
          const [value, clientCpu] = await s.load(args);
          const server = (await serverCpu()) - before;
          const { shown, units } = scale(value);
          rate[arm].push(shown);
          // seconds of CPU per unit (a million connections, a thousand GB) = µs per connection, ms per GB
          cost[arm].push((clientCpu + server) / units);
        }
        rateRatios.push(rate.chain[r] / rate.none[r]);
        costRatios.push(cost.chain[r] / cost.none[r]);
      }
      record(`${name}.no-chain`, 65536, median(rate.none), rateUnit);
      record(`${name}.chain`, 65536, median(rate.chain), rateUnit);
      record(`ratio.${name}.chain-vs-no-chain`, 65536, median(rateRatios), 'x');
      record(`${name}.cpu.no-chain`, 65536, median(cost.none), costUnit);
      record(`${name}.cpu.chain`, 65536, median(cost.chain), costUnit);
      record(`ratio.${name}.cpu.chain-vs-no-chain`, 65536, median(costRatios), 'x');
    }
  } finally {
    side?.server?.kill();
    side?.nl.close();
    side?.net.destroy();
  }
}

/** `node dist/scripts/bench.js [load] [ct] [pkt]`: the parts to run (all when none is named). */
async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const want = (part: string) => asked.length === 0 || asked.includes(part);
  execFileSync('make', ['-s', '-C', path.resolve(__dirname, '..', '..', 'native'), 'bench'], { stdio: 'inherit' });
  if (want('load')) {
    const ns = addNamespace(`sipa-bench-${process.pid}`);
    const lib = loadNative();
    const nl = lib.open(`/run/netns/${ns}`);
    try {
      const sets = new IpsetManager(nl, lib.strerror);
      process.stdout.write('# kernel path (namespace of its own, hash:net, hashsize sized for 65536)\n');
      loads(ns, sets);
      latency(sets);
    } finally {
      nl.close();
      removeNamespace(ns);
    }
  }
  if (want('ct')) await conntrack();
  if (want('pkt')) {
    process.stdout.write('# per packet (remote device → router → NAS, 65,536 allow entries, chain vs no chain, median of 20 pairs of 1 s rounds)\n');
    await perPacket();
  }
  process.stdout.write('\n| figure | n | value |\n|---|---|---|\n');
  for (const f of figures) process.stdout.write(`| ${f.name} | ${f.n} | ${f.value} ${f.unit} |\n`);
}

main().catch(err => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
