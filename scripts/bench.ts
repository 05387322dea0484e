// `npm run bench`: the kernel path's speed, measured in a namespace of its own against baselines in the same
// run. Prints a table and one JSON line per figure: {"name", "n", "value", "unit"}. Not a test: no limits here.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { addNamespace, inNs, makeTopology, removeNamespace, startServer, udpFlows } from './lib/netns';
import { KernelEntry, loadNative, NetlinkHandle } from '../module/kernel/native';
import { IpsetManager, hashsizeFor } from '../module/kernel/ipset';
import { Firewall } from '../module/kernel/firewall';
import { commandRunner } from '../module/kernel/command';

interface Figure { name: string; n: number; value: number; unit: 'ms' | 'us' | 'x' }
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

function loads(ns: string, nl: NetlinkHandle, sets: IpsetManager): void {
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

async function main(): Promise<void> {
  const ns = addNamespace(`sipa-bench-${process.pid}`);
  const lib = loadNative();
  const nl = lib.open(`/run/netns/${ns}`);
  try {
    const sets = new IpsetManager(nl, lib.strerror);
    process.stdout.write('# kernel path (namespace of its own, hash:net, hashsize sized for 65536)\n');
    loads(ns, nl, sets);
    latency(sets);
  } finally {
    nl.close();
    removeNamespace(ns);
  }
  await conntrack();
  process.stdout.write('\n| figure | n | value |\n|---|---|---|\n');
  for (const f of figures) process.stdout.write(`| ${f.name} | ${f.n} | ${f.value} ${f.unit} |\n`);
}

main().catch(err => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
