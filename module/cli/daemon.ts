// `sipa daemon`: the service in the foreground. Start order: store, kernel, engine (restore), reconciler, LAN
// watcher, pruner, API. SIGTERM stops it cleanly (enforcement stays unless disabled); SIGHUP reloads the config.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Store, Pruner, SwitchFile, type Recovered } from '../store';
import { loadNative, commandRunner, Enforcer, LanWatcher } from '../kernel';
import { Engine, Reconciler, jsonLogger, levelMethods, Logger, systemLog, type SystemLog, EventSummary } from '../engine';
import { Config, kernelNames, loadConfig } from '../config';
import { startApi } from '../api';
import { PortalLink } from '../cloud';
import { ownFiles, ownFolder, UntrustedPathError } from './own-dirs';
import { buildTimeMs, packageVersion, pidPath, socketPath } from './paths';
import { dropCleanFilePages } from './process-memory';
import { runtimeSupport } from './runtime-support';

const TRIM_EVERY_MS = 3_600_000;

/** Repairs of rules or sets that something else removed, for the NAS's event log: the first at once, then summarised. */
function reportRepairs(sysLog: SystemLog): (e: { what: string }) => void {
  const repairs = new EventSummary(sysLog, {
    level: 'warn',
    first: (_kind, what) => `repaired the firewall rules or sets after something else changed them: ${(what ?? '').slice(0, 200)}; further repairs are summarised every 5 minutes`,
    more: (n, _byKind, minutes) => `repaired the firewall rules or sets ${n} more times in the last ${minutes} minutes (something keeps removing them)`,
  });
  return ({ what }) => repairs.add('repair', what);
}

/** The store's files in dataDir (database, its journals and moved-aside copies, the on/off record, the reserve). */
const STORE_FILES = /^sipa\.(db(-wal|-shm|-journal|\.corrupt-.*)?|enforce(\.tmp)?|reserve)$/;

/**
 * The run and data folders: every folder on the way must be root's alone (own-dirs.ts); missing ones are made
 * 0700 and marked; the store's files must be root's own regular files and are made 0600. A data folder that
 * cannot be made (a read-only or full partition) is left to openStore, which then runs on a temporary store.
 */
function prepareFolders(config: Config): void {
  ownFolder(config.runDir);
  try {
    ownFolder(config.dataDir);
  } catch (e) {
    if (e instanceof UntrustedPathError) throw e;
    return;
  }
  ownFiles(config.dataDir, name => STORE_FILES.test(name));
}

/** Another daemon answers on the socket: refuse. A stale socket or pid file from a crash is cleaned up. */
async function claimRunDir(runDir: string): Promise<void> {
  const sock = socketPath(runDir);
  let found: fs.Stats | null = null;
  try { found = fs.lstatSync(sock); } catch { /* none */ }
  // Only a socket is probed: connect() would follow a link to wherever it leads.
  const alive = found?.isSocket() === true && await new Promise<boolean>(resolve => {
    const c = net.connect(sock);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
  if (alive) {
    let pid = '?';
    try { pid = fs.readFileSync(pidPath(runDir), 'utf8').trim(); } catch { /* none */ }
    throw new Error(`another sipa daemon is running (pid ${pid}, socket ${sock}); stop it first`);
  }
  fs.rmSync(sock, { force: true });
  // A new file, never through a link left in its place.
  const pidFile = pidPath(runDir);
  fs.rmSync(pidFile, { force: true });
  const fd = fs.openSync(pidFile, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, `${process.pid}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The store on the flash partition; if it cannot be opened at all (the partition is full or read-only, the file
 * is still damaged after being moved aside), a temporary one in the run dir, so that the daemon enforces anyway.
 */
async function openStore(config: Config, log: Logger): Promise<{ store: Store; recovered: Recovered | null; unavailable: string | null }> {
  try {
    fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o750 });
    return { ...(await Store.open({ dataDir: config.dataDir })), unavailable: null };
  } catch (err) {
    const reason = (err as Error).message;
    log('error', 'cannot open the store; running on a temporary one', { error: reason });
    const dataDir = path.join(config.runDir, 'volatile-store');
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    return { ...(await Store.open({ dataDir })), unavailable: reason };
  }
}

export async function runDaemon(config: Config, configFile: string): Promise<number> {
  let log: Logger = jsonLogger(config.log.level);
  // What the daemon creates is root's alone: files 0600, folders 0700 (the store holds the portal binding's key).
  process.umask(0o077);
  try {
    prepareFolders(config);
    await claimRunDir(config.runDir);
  } catch (e) {
    process.stderr.write(`sipa: ${(e as Error).message}\n`);
    return 1;
  }
  const sysLog = systemLog(() => log);
  const { store, recovered, unavailable } = await openStore(config, log);
  const nsPath = config.netns ? `/run/netns/${config.netns}` : null;
  const lib = loadNative();
  const nl = lib.open(nsPath);
  const kernel = new Enforcer(nl, lib.strerror, commandRunner(config.netns), kernelNames(config));
  const lan = new LanWatcher(nsPath ? fn => lib.insideNetns(nsPath, fn) : undefined);
  lan.on('error', err => log('warn', 'LAN watcher', { error: String(err) }));
  if (config.firewall.lan === 'auto') await lan.start();

  let current = config;
  let link: PortalLink | null = null;
  const runtime = runtimeSupport();
  if (runtime.pastEndOfLife) log('warn', 'the Node.js this runs on is past its end of life: no security fixes', { ...runtime });
  const engine = new Engine({
    store, kernel, config, log: (...a) => log(...a), version: packageVersion(), buildTimeMs: buildTimeMs(), runtime: () => runtimeSupport(),
    switch: new SwitchFile(config.dataDir, store.reserve), systemLog: sysLog, storeUnavailable: unavailable,
    learnedLan: () => lan.current(),
    portalStatus: () => {
      const s = link?.status();
      return s ? { configured: s.configured, bound: s.bound, connected: s.connected } : { configured: false, bound: false, connected: false };
    },
  });
  await engine.start(recovered);
  engine.on('repaired', reportRepairs(sysLog));
  link = new PortalLink({ engine, store, config: config.portal, log: levelMethods(() => log, 'portal'), systemLog: sysLog });
  const reconciler = new Reconciler(engine, config.reconcile.intervalSeconds * 1000, (...a) => log(...a));
  reconciler.start();
  lan.on('change', networks => {
    log('info', 'LAN networks changed', { networks: networks.map((n: { text: string }) => n.text) });
    void engine.lanChanged().then(() => reconciler.trigger());
  });
  const pruner = new Pruner({
    store, limits: config.prune,
    onError: err => log('warn', 'pruning failed', { error: String(err) }),
  });
  pruner.start();
  const api = await startApi({ engine, config: config.api, runDir: config.runDir, log: (...a) => log(...a), portal: link, systemLog: sysLog });
  await link.start();
  log('info', 'daemon ready', { pid: process.pid, socket: api.socketPath, http: api.httpUrl, netns: config.netns });
  // Start-up's code pages (and, hourly, those of whatever ran since) go back to the page cache (process-memory.ts).
  const trim = () => {
    try {
      log('debug', 'unmapped clean code pages', dropCleanFilePages());
    } catch (e) {
      log('debug', 'could not unmap clean code pages', { error: (e as Error).message });
    }
  };
  trim();
  const trimmer = setInterval(trim, TRIM_EVERY_MS).unref();

  return new Promise<number>(resolve => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log('info', 'stopping; enforcement stays in the kernel', { signal });
      clearInterval(trimmer);
      await api.stop().catch(() => undefined);
      await link?.stop().catch(() => undefined);
      await reconciler.stop();
      await pruner.stop();
      lan.stop();
      await engine.stop();
      await store.close();
      nl.close();
      fs.rmSync(pidPath(current.runDir), { force: true });
      resolve(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', () => {
      try {
        const next = loadConfig(configFile);
        engine.reconfigure(next).then(() => {
          log = jsonLogger(next.log.level);
          current = next;
          log('info', 'config reloaded', { file: configFile });
          void reconciler.trigger();
        }, (e: Error) => log('error', 'config reload refused; keeping the running config', { error: e.message }));
      } catch (e) {
        log('error', 'config reload refused; keeping the running config', { error: (e as Error).message });
      }
    });
  });
}
