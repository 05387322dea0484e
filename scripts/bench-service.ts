// The service's figures (part of `npm run bench`): register → kernel entry through the engine and through the
// CLI, start to enforcing with 10,000 stored devices, the daemon's idle RSS and CPU, bytes written to the data dir
// per register, per revoke and per idle minute, the store's size, and the reconciler: what its look and its full
// check cost, and how long a damaged chain, jump or set and changed set members stay unrepaired; what a panel
// session's "is the admin's address registered" costs (BENCH_ONLY=session). One JSON line per figure, then a
// table.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addNamespace, inNs, removeNamespace } from './lib/netns';
import { makeDaemon } from './lib/daemon';
import { sleep, until } from './lib/wait';
import { stagePackagedTree } from './lib/packaged';
import { churn, memoryOf } from './lib/churn';
import { fillStore } from './lib/fill-store';
import { loadNative, NetlinkHandle } from '../module/kernel/native';
import { commandRunner } from '../module/kernel/command';
import { Enforcer, Wanted } from '../module/kernel/enforcer';
import { packEntry } from '../module/kernel/packed-entry';
import { Engine } from '../module/engine/engine';
import { checkConfig, kernelNames } from '../module/config';
import { silentLogger } from '../module/engine/log';
import { Store, SwitchFile } from '../module/store';
import { networkContains, parseNetwork } from '../module/domain';

interface Figure { name: string; n: number; value: number; unit: string }
const figures: Figure[] = [];
const record = (name: string, n: number, value: number, unit: string) => {
  const f = { name, n, value: Math.round(value * 1000) / 1000, unit };
  figures.push(f);
  process.stdout.write(`${JSON.stringify(f)}\n`);
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const v6 = (i: number) => `2001:db8:b::${(i + 1).toString(16)}`;
const bytesOf6 = (i: number) => { const b = new Uint8Array(16); b.set([0x20, 0x01, 0x0d, 0xb8, 0, 0x0b]); b[14] = ((i + 1) >> 8) & 255; b[15] = (i + 1) & 255; return b; };

/** CPU time in ms a process used, its reaped children's included (/proc/PID/stat utime stime cutime cstime). */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = fields.slice(11, 15).reduce((a, b) => a + Number(b), 0);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

/** CPU ms this process and its reaped children used while fn ran, per call. */
async function cpuPerCall(calls: number, fn: () => unknown): Promise<number> {
  const before = cpuMs(process.pid);
  const usage = process.cpuUsage();
  for (let i = 0; i < calls; i++) await fn();
  const own = process.cpuUsage(usage);
  const children = cpuMs(process.pid) - before - (own.user + own.system) / 1000;
  return ((own.user + own.system) / 1000 + Math.max(0, children)) / calls;
}

function writeBytes(pid: number): number {
  const io = fs.readFileSync(`/proc/${pid}/io`, 'utf8');
  return Number(/write_bytes: (\d+)/.exec(io)![1]);
}

/**
 * A real Engine on a real store and the real kernel, in a namespace of its own, for `use`; `fill` may stock the
 * data dir first. The namespace, the store and the dir go afterwards, whatever happened.
 */
async function withEngine(tag: string, use: (engine: Engine, nl: NetlinkHandle) => Promise<void>, fill?: (dir: string) => Promise<void>): Promise<void> {
  const ns = addNamespace(`sipa-${tag}-${process.pid}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-bench-'));
  const lib = loadNative();
  const nl = lib.open(`/run/netns/${ns}`);
  let store: Store | null = null;
  let engine: Engine | null = null;
  try {
    await fill?.(dir);
    const config = checkConfig({ dataDir: dir, netns: ns, firewall: { lan: [] } });
    ({ store } = await Store.open({ dataDir: dir }));
    engine = new Engine({ store, kernel: new Enforcer(nl, lib.strerror, commandRunner(ns), kernelNames(config)), config, log: silentLogger, version: 'bench', buildTimeMs: 0, switch: new SwitchFile(dir) });
    await use(engine, nl);
  } finally {
    await engine?.stop();
    await store?.close();
    nl.close();
    removeNamespace(ns);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function engineLatency(): Promise<void> {
  return withEngine('bsvc', async (engine, nl) => {
    await engine.start();
    await engine.enable({ surface: 'system', name: 'bench' });
    const lat: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const t0 = process.hrtime.bigint();
      await engine.register({ address: v6(i), source: 'local', expiry: { policy: 'fixed', seconds: 600 } }, { surface: 'cli', name: 'bench' });
      if (!nl.setTest('sipa6_allow', 6, bytesOf6(i), 128)) throw new Error(`entry ${v6(i)} not in the kernel`);
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    record('engine.register.p50', 1000, pct(lat, 0.5), 'ms');
    record('engine.register.p99', 1000, pct(lat, 0.99), 'ms');
    await engine.disable({ surface: 'system', name: 'bench' });
  });
}

/**
 * What the reconciler's two paces cost with 10,000 allowed addresses: the look (filter table digests and set
 * headers through the helper), against the alternative of reading the rules with iptables-save for both
 * families; and the full check (every member listed and compared, the rules read and compared).
 */
async function reconcileCosts(): Promise<void> {
  const ns = addNamespace(`sipa-brec-${process.pid}`);
  const lib = loadNative();
  const nl = lib.open(`/run/netns/${ns}`);
  const config = checkConfig({ dataDir: '/unused', netns: ns, firewall: { lan: [] } });
  const names = kernelNames(config);
  const plan = { names, protect: config.firewall.protect, action: config.firewall.action };
  const run = commandRunner(ns);
  try {
    const enforcer = new Enforcer(nl, lib.strerror, run, names);
    await enforcer.install(plan, config.limits.maxEntries);
    enforcer.setLan([]);
    const nets = Array.from({ length: 10_000 }, (_, i) => ({ family: 6 as const, bytes: bytesOf6(i), prefix: 128 }));
    const packed = nets.map(packEntry);
    const deadline = performance.now() + 3_600_000;
    // As the engine builds it for each check: every device with the time it has left.
    const wanted = (): Wanted => {
      const timeout = Math.ceil((deadline - performance.now()) / 1000);
      return { allowed: visit => packed.forEach(n => visit(n, timeout)), allowedCount: nets.length, lan: [] };
    };
    enforcer.replaceAllowed(nets.map(n => ({ ...n, timeout: 3600 })), config.limits.maxEntries);
    const look = await cpuPerCall(2000, () => enforcer.fingerprint());
    record('reconcile.look-cpu', 10_000, look * 1000, 'us');
    const save = await cpuPerCall(20, async () => {
      for (const t of ['iptables-legacy-save', 'ip6tables-legacy-save']) await run(t, ['-t', 'filter']);
    });
    record('reconcile.iptables-save-both-cpu (the baseline look)', 10_000, save * 1000, 'us');
    record('ratio.iptables-save-vs-look', 10_000, save / look, 'x');
    const health = await enforcer.check(plan, wanted());
    if (!health.ok) throw new Error(`full check found: ${health.problems.join('; ')}`);
    record('reconcile.full-check-cpu', 10_000, await cpuPerCall(20, () => enforcer.check(plan, wanted())), 'ms');
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) await enforcer.check(plan, wanted());
    record('reconcile.full-check-wall', 10_000, Number(process.hrtime.bigint() - t0) / 20e6, 'ms');
  } finally {
    nl.close();
    removeNamespace(ns);
  }
}

/** How long each damage stays unrepaired in the running daemon, from random moments of its cycle. */
async function repairTimes(ns: string, trials: number): Promise<void> {
  const nl: NetlinkHandle = loadNative().open(`/run/netns/${ns}`);
  const registered = bytesOf6(0);
  const intruder = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0, 0x0c, ...new Array(9).fill(0), 7]);
  const intruder4 = Uint8Array.from([203, 0, 113, 77]);
  const intact = { 4: nl.filterDigest(4), 6: nl.filterDigest(6) };
  const rulesBack = () => nl.filterDigest(4) === intact[4] && nl.filterDigest(6) === intact[6];
  const kinds: Array<{ name: string; damage: () => void; repaired: () => boolean }> = [
    { name: 'chain-flushed', damage: () => inNs(ns, 'iptables-legacy', ['-F', 'SIPA_INPUT']), repaired: rulesBack },
    { name: 'jump-deleted', damage: () => inNs(ns, 'ip6tables-legacy', ['-D', 'INPUT', '-j', 'SIPA_INPUT']), repaired: rulesBack },
    {
      name: 'set-destroyed',
      damage: () => {
        for (const chain of ['SIPA_INPUT', 'SIPA_OUTPUT']) inNs(ns, 'iptables-legacy', ['-F', chain]);
        nl.setDestroy('sipa4_lan');
      },
      repaired: () => nl.setInfo('sipa4_lan') !== null && rulesBack(),
    },
    {
      name: 'allow-member-swapped',
      damage: () => {
        nl.batchApply('sipa6_allow', [{ op: 'del', family: 6, bytes: registered, prefix: 128, timeout: 0 }]);
        nl.batchApply('sipa6_allow', [{ op: 'add', family: 6, bytes: intruder, prefix: 128, timeout: 600 }]);
      },
      repaired: () => nl.setTest('sipa6_allow', 6, registered, 128) && !nl.setTest('sipa6_allow', 6, intruder, 128),
    },
    {
      name: 'lan-member-added',
      damage: () => { nl.batchApply('sipa4_lan', [{ op: 'add', family: 4, bytes: intruder4, prefix: 32, timeout: 0 }]); },
      repaired: () => !nl.setTest('sipa4_lan', 4, intruder4, 32),
    },
  ];
  try {
    for (const kind of kinds) {
      const took: number[] = [];
      for (let i = 0; i < trials; i++) {
        await sleep(500 + Math.random() * 4000); // anywhere in the full checks' 4 s cycle
        kind.damage();
        const t0 = performance.now();
        await until(`${kind.name} repaired`, kind.repaired, 15_000, 5);
        took.push(performance.now() - t0);
      }
      record(`reconcile.repair.${kind.name}.p50`, trials, pct(took, 0.5), 'ms');
      record(`reconcile.repair.${kind.name}.max`, trials, Math.max(...took), 'ms');
    }
  } finally {
    nl.close();
  }
}

/**
 * As a NAS runs it: daemon and CLI through the packaged launcher (scripts/lib/packaged.ts), with its Node flags
 * and the bundled loader. The idle daemon's RSS with no devices and with 10,000, after a `sipa list --json` of
 * all, once settled (and 5 s after the list, before V8 gives back what the list left free); the CLI's p50
 * against Node's own start through the same loader (the floor), the three interleaved so that the machine's load
 * hits them alike; then a minute of churn (10 register+revoke a second; scripts/churn.ts runs it for an hour)
 * and the settled RSS before and after it.
 */
async function asPackaged(): Promise<void> {
  const tree = stagePackagedTree();
  const ns = addNamespace(`sipa-bpkg-${process.pid}`);
  const idleDaemon = async (n: number) => {
    const d = makeDaemon(ns, { firewall: { lan: [] }, reconcile: {}, policy: { ipv6Scope: 'address' } }, { launcher: tree.sipa });
    await fillStore(path.join(d.dir, 'data'), n);
    await d.start();
    const list = await d.sipaJson<unknown[]>('list');
    if (list.length !== n) throw new Error(`daemon restored ${list.length} devices, not ${n}`);
    await sleep(5000);
    const soon = memoryOf(d.process!.pid!);
    return { d, soon, mem: await settled(d.process!.pid!) };
  };
  // Idle means settled: V8 gives back the pages a burst of work (the start, the list) left free only when its
  // memory reducer runs, about 8 s after the activity ends; 5 s after the list it has not run yet.
  const settled = async (pid: number) => {
    const samples: Array<ReturnType<typeof memoryOf>> = [];
    for (let s = 0; s < 60; s++) {
      samples.push(memoryOf(pid));
      const last = samples.slice(-11).map(m => m.rss);
      if (last.length === 11 && Math.max(...last) - Math.min(...last) <= 0.25) break;
      await sleep(1000);
    }
    return samples[samples.length - 1];
  };
  try {
    const empty = await idleDaemon(0);
    record('daemon.rss-5s-after-list-as-packaged', 0, empty.soon.rss, 'MiB');
    record('daemon.rss-idle-as-packaged', 0, empty.mem.rss, 'MiB');
    record('daemon.rss-anon-idle-as-packaged', 0, empty.mem.anon, 'MiB');
    await empty.d.sipa('disable');
    await empty.d.destroy();
    const { d, soon, mem } = await idleDaemon(10_000);
    try {
      record('daemon.rss-5s-after-list-as-packaged', 10_000, soon.rss, 'MiB');
      record('daemon.rss-idle-as-packaged', 10_000, mem.rss, 'MiB');
      record('daemon.rss-anon-idle-as-packaged', 10_000, mem.anon, 'MiB');
      record('daemon.rss-growth-per-1000', 10_000, (mem.rss - empty.mem.rss) / 10, 'MiB');

      const runs: Record<'floor' | 'status' | 'register', number[]> = { floor: [], status: [], register: [] };
      const timed = async (into: number[], argv: string[]) => {
        const t0 = performance.now();
        const code = await new Promise<number>(resolve => execFile(argv[0], argv.slice(1), err => resolve(err ? 1 : 0)));
        if (code !== 0) throw new Error(`${argv.join(' ')} failed`);
        into.push(performance.now() - t0);
      };
      for (let i = 0; i < 40; i++) {
        await timed(runs.floor, [...tree.node, '-e', '0']);
        await timed(runs.status, [tree.sipa, 'status', '--config', d.configPath]);
        await timed(runs.register, [tree.sipa, 'register', `203.0.113.${100 + i}`, '--for', '10m', '--config', d.configPath]);
      }
      record('node.floor.p50', 40, pct(runs.floor, 0.5), 'ms');
      record('cli.status.p50', 40, pct(runs.status, 0.5), 'ms');
      record('cli.register.p50', 40, pct(runs.register, 0.5), 'ms');
      record('cli.register.p99', 40, pct(runs.register, 0.99), 'ms');
      record('cli.status-above-floor.p50', 40, pct(runs.status, 0.5) - pct(runs.floor, 0.5), 'ms');

      const before = (await settled(d.process!.pid!)).rss;
      const seconds = Number(process.env.BENCH_CHURN_SECONDS ?? 60);
      const pairs = await churn(path.join(d.dir, 'run', 'sipa.sock'), seconds, 10);
      const after = await settled(d.process!.pid!);
      record('daemon.rss-after-churn', pairs, after.rss, 'MiB');
      record('daemon.rss-churn-growth', pairs, after.rss - before, 'MiB');
    } finally {
      await d.sipa('disable');
      await d.destroy();
    }
  } finally {
    removeNamespace(ns);
    tree.remove();
  }
}

async function daemonFigures(): Promise<void> {
  const ns = addNamespace(`sipa-bdmn-${process.pid}`);
  // The reconciler as configured by default (reconcile: {} takes the schema's default interval).
  const d = makeDaemon(ns, { firewall: { lan: [] }, reconcile: {}, policy: { ipv6Scope: 'address' } });
  try {
    await fillStore(path.join(d.dir, 'data'), 10_000);
    const t0 = Date.now();
    await d.start();
    const ready = Date.now() - t0;
    const list = await d.sipaJson<unknown[]>('list');
    if (list.length !== 10_000) throw new Error(`daemon restored ${list.length} devices`);
    record('daemon.start-to-enforcing', 10_000, ready, 'ms');
    await sleep(5000);
    const pid = d.process!.pid!;
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
    record('daemon.rss-idle', 10_000, rss, 'MiB');

    const before = writeBytes(pid);
    const cpu0 = cpuMs(pid);
    await sleep(60_000);
    record('store.bytes-idle-minute', 1, writeBytes(pid) - before, 'B');
    record('daemon.cpu-idle (reconciler watching)', 10_000, (cpuMs(pid) - cpu0) / 600, '% of a core');

    const cli: number[] = [];
    const w0 = writeBytes(pid);
    for (let i = 0; i < 20; i++) {
      const t = Date.now();
      const r = await d.sipa('register', `203.0.113.${100 + i}`, '--for', '10m');
      if (r.code !== 0) throw new Error(r.stderr);
      cli.push(Date.now() - t);
    }
    record('store.bytes-per-register', 20, (writeBytes(pid) - w0) / 20, 'B');
    record('cli.register-plain-node.p50', 20, pct(cli, 0.5), 'ms');
    record('cli.register-plain-node.p99', 20, pct(cli, 0.99), 'ms');
    const w1 = writeBytes(pid);
    for (let i = 0; i < 20; i++) await d.sipa('revoke', `203.0.113.${100 + i}`);
    record('store.bytes-per-revoke', 20, (writeBytes(pid) - w1) / 20, 'B');
    const db = path.join(d.dir, 'data', 'sipa.db');
    record('store.file-10000-devices', 10_000, fs.statSync(db).size / 1024, 'KiB');
    await repairTimes(ns, 6);
  } finally {
    await d.sipa('disable');
    await d.destroy();
    removeNamespace(ns);
  }
}

const rssOf = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const v6wide = (i: number) => `2001:db8:c::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`;

/** limits.maxEntries devices: one batch in, the whole list out, a restart with all of them stored. */
async function atCapacity(): Promise<void> {
  const n = 65_536;
  const ns = addNamespace(`sipa-bcap-${process.pid}`);
  const d = makeDaemon(ns, { firewall: { lan: [] }, reconcile: { intervalSeconds: 5 }, policy: { ipv6Scope: 'address' } });
  try {
    await d.start();
    if ((await d.sipa('enable')).code !== 0) throw new Error('enable failed');
    const file = path.join(d.dir, 'devices.csv');
    fs.writeFileSync(file, Array.from({ length: n }, (_, i) => `${v6wide(i)},1h,device ${i}`).join('\n'));
    const t0 = Date.now();
    const r = await d.sipa('register', '--from', file);
    if (r.code !== 0) throw new Error(r.stderr);
    record('cli.register-batch', n, Date.now() - t0, 'ms');
    const entries = Number(/Number of entries: (\d+)/.exec(execFileSync('ip', ['netns', 'exec', ns, 'ipset', 'list', 'sipa6_allow', '-t'], { encoding: 'utf8' }))![1]);
    if (entries !== n) throw new Error(`${entries} kernel entries after the batch, not ${n}`);
    record('store.file-at-capacity', n, fs.statSync(path.join(d.dir, 'data', 'sipa.db')).size / 1024, 'KiB');
    await d.stop('SIGTERM');
    // a reboot: the kernel holds nothing of ours; the time until the chain refuses the internet, and until every
    // stored device is allowed again
    for (const t of ['iptables-legacy', 'ip6tables-legacy']) for (const f of ['-F', '-X']) execFileSync('ip', ['netns', 'exec', ns, t, f]);
    execFileSync('ip', ['netns', 'exec', ns, 'ipset', 'destroy']);
    const t2 = Date.now();
    let closedAt = 0;
    const ready = d.start().then(() => Date.now());
    while (!closedAt) {
      try {
        execFileSync('ip', ['netns', 'exec', ns, 'iptables-legacy', '-C', 'INPUT', '-j', 'SIPA_INPUT'], { stdio: 'ignore' });
        closedAt = Date.now();
      } catch {
        await sleep(10);
      }
    }
    record('daemon.start-to-enforcing', n, closedAt - t2, 'ms');
    record('daemon.start-to-every-device-allowed', n, (await ready) - t2, 'ms');
    const pid = d.process!.pid!;
    record('daemon.start-cpu', n, cpuMs(pid), 'ms');
    await sleep(3000);
    const before = rssOf(pid);
    record('daemon.rss-idle', n, before, 'MiB');
    const t1 = Date.now();
    const list = await d.sipaJson<unknown[]>('list');
    record('cli.list-json', n, Date.now() - t1, 'ms');
    if (list.length !== n) throw new Error(`listed ${list.length}`);
    record('daemon.rss-growth-after-list', n, rssOf(pid) - before, 'MiB');

    // The same store, started as packaged (the launcher's Node flags: --lite-mode trades this for memory).
    await d.stop('SIGTERM');
    const tree = stagePackagedTree();
    const packaged = makeDaemon(ns, { firewall: { lan: [] }, reconcile: { intervalSeconds: 5 }, policy: { ipv6Scope: 'address' } }, { launcher: tree.sipa });
    try {
      fs.cpSync(path.join(d.dir, 'data'), path.join(packaged.dir, 'data'), { recursive: true });
      const t3 = Date.now();
      await packaged.start();
      record('daemon.start-to-every-device-allowed-as-packaged', n, Date.now() - t3, 'ms');
      record('daemon.start-cpu-as-packaged', n, cpuMs(packaged.process!.pid!), 'ms');
      await sleep(3000);
      const idle = rssOf(packaged.process!.pid!);
      record('daemon.rss-idle-as-packaged', n, idle, 'MiB');
      // The list's growth as the NAS runs the daemon: the launcher keeps V8's young generation at 1 MiB, where
      // plain `node` lets it grow to 16 MiB and more under the list's garbage.
      const listed = await packaged.sipaJson<unknown[]>('list');
      if (listed.length !== n) throw new Error(`listed ${listed.length}`);
      record('daemon.rss-growth-after-list-as-packaged', n, rssOf(packaged.process!.pid!) - idle, 'MiB');
    } finally {
      await packaged.sipa('disable');
      await packaged.destroy();
      tree.remove();
    }
  } finally {
    await d.sipa('disable');
    await d.destroy();
    removeNamespace(ns);
  }
}

/**
 * What a panel session answer costs with 10,000 devices for an admin on the internet ("is the address I come
 * from registered?"): from the engine's memory (engine.allows), against, in the same run, what the API did
 * before (every active device read from the store, then scanned).
 */
function remoteRegisteredCost(): Promise<void> {
  const n = 10_000;
  return withEngine('bsess', async engine => {
    const before = async (addr: string): Promise<boolean> => {
      const a = parseNetwork(addr);
      return (await engine.list()).some(d => d.state === 'active' && networkContains(parseNetwork(d.address.includes('/') ? d.address : `${d.address}/${d.prefix}`), a));
    };
    await engine.start();
    const timings = { before: [] as number[], now: [] as number[] };
    for (let round = 0; round < 20; round++) {
      for (const [which, ask] of [['before', before], ['now', (a: string) => engine.allows(a)]] as const) {
        const t0 = process.hrtime.bigint();
        if (await ask('203.0.113.250')) throw new Error('an unregistered address counted as registered');
        timings[which].push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
    if (!(await engine.allows(v6(n - 1)))) throw new Error('a registered address did not count');
    record('api.session.remote-registered (engine memory) p50', n, pct(timings.now, 0.5), 'ms');
    record('api.session.remote-registered.before (store read + scan) p50', n, pct(timings.before, 0.5), 'ms');
  }, dir => fillStore(dir, n));
}

async function main(): Promise<void> {
  process.stdout.write('# service: engine, daemon, store\n');
  const only = process.env.BENCH_ONLY;
  if (!only || only === 'engine') await engineLatency();
  if (!only || only === 'session') await remoteRegisteredCost();
  if (!only || only === 'reconcile') await reconcileCosts();
  if (!only || only === 'daemon') await daemonFigures();
  if (!only || only === 'packaged') await asPackaged();
  if (!only || only === 'capacity') await atCapacity();
  process.stdout.write('\n| figure | n | value |\n|---|---|---|\n');
  for (const f of figures) process.stdout.write(`| ${f.name} | ${f.n} | ${f.value} ${f.unit} |\n`);
}

main().catch(err => {
  process.stderr.write(`bench-service failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
