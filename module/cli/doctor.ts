// `sipa doctor`: what an admin checks when something seems off — kernel support, rules intact, store
// integrity, clock trust — and `sipa uninstall-cleanup`, which removes every rule and set even with no daemon.
import fs from 'node:fs';
import path from 'node:path';
import { loadNative, commandRunner, findProgram, Enforcer } from '../kernel';
import { Config, kernelNames } from '../config';
import type { Status } from '../engine';
import { apiRequest } from './client';
import { runtimeText } from './format';
import { runtimeSupport } from './runtime-support';
import { SwitchFile, SpaceReserve } from '../store';
import { isMarked, MARKER } from './own-dirs';

interface Finding {
  check: string;
  ok: boolean;
  detail: string;
  /** Worth knowing, nothing to repair here: printed as WARN, does not fail the doctor. */
  warning?: boolean;
}

export async function doctor(config: Config, sock: string, json: boolean): Promise<number> {
  const findings: Finding[] = [];
  const add = (check: string, ok: boolean, detail: string) => findings.push({ check, ok, detail });
  const names = kernelNames(config);
  const plan = { names, protect: config.firewall.protect, action: config.firewall.action };

  const legacy = findProgram('iptables-legacy-restore') ?? findProgram('iptables-restore');
  add('iptables (legacy)', legacy !== null, legacy ?? 'iptables-restore not found');
  let status: Status | null = null;
  try {
    status = await apiRequest<Status>(sock, 'GET', '/api/v1/status', undefined, 5000);
    add('daemon', true, `running, ${status.activeDevices} active devices`);
    add('clock', status.clockTrusted, status.clockTrusted ? 'trusted' : `not trusted at start: ${status.clockNote ?? 'timed entries were revoked; check NTP'}`);
    add('store', status.storeRecovered === null, status.storeRecovered ?? 'integrity check passed at start');
    add('unreadable rows', status.quarantinedRows === 0, status.quarantinedRows === 0 ? 'none'
      : `${status.quarantinedRows} device row(s) could not be read at start and were set aside (not enforced); they are kept in the quarantine table of sipa.db, and \`sipa audit\` shows why (action quarantine)`);
    if (status.enabled && !status.enforcing) add('enforcing', false, 'enabled but the kernel refused the rules; the daemon retries every few seconds (see its log)');
    if (status.unrecordedEnds) add('pending records', false, `${status.unrecordedEnds} ended device(s) are cut off but not yet recorded in the store; retried`);
  } catch (e) {
    add('daemon', false, (e as Error).message);
  }
  const sw = new SwitchFile(config.dataDir).read();
  add('on/off record', sw.state !== 'damaged', sw.state === 'damaged' ? `${sw.reason}: the daemon enforces until an admin disables`
    : sw.state === 'absent' ? 'none yet (never enabled)' : `${sw.state} since ${new Date(sw.at).toISOString()} by ${sw.by}`);
  add('storage', status?.storageFull == null, status?.storageFull ?? storageDetail(config.dataDir));
  try {
    const lib = loadNative();
    const nl = lib.open(config.netns ? `/run/netns/${config.netns}` : null);
    try {
      const enforcer = new Enforcer(nl, lib.strerror, commandRunner(config.netns), names);
      if (status?.enabled === false) add('rules', true, 'disabled: no rules expected');
      else {
        const health = await enforcer.check(plan);
        add('rules and sets', health.ok, health.ok ? `intact; ${health.allowed[4]} IPv4 and ${health.allowed[6]} IPv6 entries` : health.problems.join('; '));
      }
      // A revoke cuts flows through conntrack: ask it for the TCP flows of a source no flow can have (the limited
      // broadcast address), which reads the table and deletes nothing.
      nl.cutFlows(4, [{ bytes: Uint8Array.from([255, 255, 255, 255]), prefix: 32 }], 6);
    } finally {
      nl.close();
    }
    add('kernel netlink', true, 'ipset and conntrack reachable');
  } catch (e) {
    add('kernel netlink', false, (e as Error).message);
  }
  // The daemon's runtime when it answers, else this process's (the same bin/node in a package).
  const runtime = status?.runtime ?? runtimeSupport();
  findings.push({ check: 'runtime', ok: true, detail: runtimeText(runtime), ...(runtime.pastEndOfLife || runtime.endOfLife === null ? { warning: true } : {}) });
  const ok = findings.every(f => f.ok);
  if (json) process.stdout.write(`${JSON.stringify({ ok, findings }, null, 2)}\n`);
  else for (const f of findings) process.stdout.write(`${!f.ok ? 'FAIL' : f.warning ? 'WARN' : 'ok  '} ${f.check}: ${f.detail}\n`);
  return ok ? 0 : 1;
}

function storageDetail(dataDir: string): string {
  try {
    const st = fs.statfsSync(dataDir);
    const reserve = new SpaceReserve(dataDir).held() ? 'space reserve for revocations in place' : 'space reserve for revocations not in place (made again when there is room)';
    return `${Math.round((st.bavail * st.bsize) / 1024)} KiB free in ${dataDir}; ${reserve}`;
  } catch (e) {
    return `cannot read ${dataDir}: ${(e as Error).message}`;
  }
}

/** Folders uninstall-cleanup will never remove, marker or not. */
function safeToRemove(dir: string): boolean {
  const d = path.resolve(dir);
  const depth = d.split('/').filter(Boolean).length;
  return depth >= 2 && !/^\/(share|etc|usr|bin|sbin|lib|lib64|home|root|proc|sys|dev|boot|var)\/?$/.test(d) && !/^\/share\/[^/]+\/?$/.test(d);
}

/** What the service itself creates in its data and run folders, by name. */
const OWN_FILES = /^(sipa\.(db(-wal|-shm|-journal|\.corrupt-.*)?|enforce(\.tmp)?|reserve|pid|sock)|service\.pid)$/;

/**
 * A folder the package made (its marker names it) goes with everything in it. Any other folder a config names
 * stays, with only the service's own files taken out of it (never through a link). True when it is gone or
 * was never there.
 */
function removeFolder(dir: string, say: (line: string) => void, complain: (line: string) => void): boolean {
  if (!safeToRemove(dir)) {
    complain(`not removing ${dir}: it is a system folder, not one of this module's own`);
    return false;
  }
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return true;
  }
  if (st.isDirectory() && isMarked(dir)) {
    fs.rmSync(dir, { recursive: true, force: true });
    say(`removed ${dir}`);
    return true;
  }
  const taken: string[] = [];
  if (st.isDirectory()) {
    for (const name of fs.readdirSync(dir)) {
      if (!OWN_FILES.test(name)) continue;
      const file = path.join(dir, name);
      const f = fs.lstatSync(file);
      if (f.isFile() || f.isSocket()) {
        fs.rmSync(file, { force: true });
        taken.push(name);
      }
    }
  }
  complain(`not removing ${dir}: this package did not make it (no ${MARKER} marker naming it)`
    + (taken.length ? `; removed only the service's own files in it: ${taken.join(', ')}` : ''));
  return false;
}

/** Folders the package made on the way to dir (e.g. /tmp/sipa for /tmp/sipa/data) go once nothing else is in them. */
function removeEmptyMarkedParents(dir: string, say: (line: string) => void): void {
  for (let p = path.dirname(path.resolve(dir)); safeToRemove(p); p = path.dirname(p)) {
    if (!isMarked(p)) return;
    let entries: string[];
    try {
      entries = fs.readdirSync(p);
    } catch {
      return;
    }
    if (entries.some(e => e !== MARKER)) return;
    fs.rmSync(path.join(p, MARKER), { force: true });
    fs.rmdirSync(p);
    say(`removed ${p}`);
  }
}

/**
 * Used by the package's removal hook (the daemon is stopped first): takes out every rule and set, then the
 * folders the package made for the store and the run dir, so that nothing of the module is left on the NAS,
 * and nothing that is not its own goes. The folders go even when the kernel part fails (e.g. no netfilter where
 * it runs); the exit code says whether everything went.
 */
export async function uninstallCleanup(config: Config): Promise<number> {
  let failed = false;
  try {
    const lib = loadNative();
    const nl = lib.open(config.netns ? `/run/netns/${config.netns}` : null);
    try {
      const names = kernelNames(config);
      await new Enforcer(nl, lib.strerror, commandRunner(config.netns), names).remove({ names, protect: config.firewall.protect, action: config.firewall.action });
      process.stdout.write('removed the Secure IP Access rules and sets\n');
    } finally {
      nl.close();
    }
  } catch (e) {
    failed = true;
    process.stderr.write(`sipa: could not remove the rules and sets: ${(e as Error).message}\n`);
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const complain = (line: string) => process.stderr.write(`sipa: ${line}\n`);
  for (const dir of [config.dataDir, config.runDir]) {
    if (!removeFolder(dir, say, complain)) failed = true;
  }
  for (const dir of [config.dataDir, config.runDir]) removeEmptyMarkedParents(dir, say);
  return failed ? 1 : 0;
}
