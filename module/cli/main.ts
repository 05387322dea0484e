#!/usr/bin/env node
// `sipa`: the admin's command line. Every verb but daemon, selftest and uninstall-cleanup talks to the daemon
// over its unix socket. Exit codes: 0 ok, 1 failure, 2 bad input, 3 daemon not reachable, 4 not found/conflict.
// Only what the client verbs need is imported here; the rest (the config validator, the daemon, the doctor)
// is loaded by the verbs that use it (client.ts says why).
import { parseArgs } from 'node:util';
import { parseDuration, DurationError } from '../domain/duration';
import type { AuditEntry, Device, ExpiryRequest, Status } from '../engine';
import type { Config } from '../config';
import { apiRequest, ApiFailure, DaemonUnreachable, runDirOf } from './client';
import { auditTable, devicesTable, statusText } from './format';
import { defaultConfigPath, socketPath } from './paths';
import { BatchFileError, itemsAsLines, readRegisterFile, readRevokeFile, UNTIL_REVOKED } from './batch-file';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const HELP = `sipa — Secure IP Access for this NAS

Usage: sipa COMMAND [options]            (every command takes --config FILE; reads take --json)

  status                       is it on, how many devices, LAN networks, portal link
  enable | disable             turn enforcement on (only registered addresses may connect) or off
  list [--all]                 trusted devices (--all: also expired and revoked ones)
  register ADDRESS [ADDRESS…] (--for DURATION | --session ID [--lease DURATION] | --until-revoked)
          [--label TEXT]       trust a device by its addresses (one IPv4, a few IPv6), one expiry
                               for all; DURATION as 90, 90s, 15m, 2h or 1h30m; --until-revoked: no
                               end, where the config's policy.allowUntilRevoked is true
  register --from FILE [--for DURATION | --until-revoked]
                               trust many at once, all or nothing: one device per line, as
                               JSON ({"address":…,"for":"2h","label":…}) or CSV (address,for,label);
                               "for" is a DURATION or until-revoked; FILE - reads standard input
  revoke ID|ADDRESS [--reason TEXT]
                               end a device's access now and cut its open connections
  revoke --from FILE [--reason TEXT]
                               revoke many (one ID or ADDRESS per line)
  audit [--limit N]            who did what, newest first (default 50)
  bind --portal URL --code CODE
                               link the NAS to a QNAP ID with the code the portal shows
  unbind                       undo the link
  doctor                       check kernel support, rules, store and clock
  selftest                     load every native part and open a scratch store (changes nothing)
  daemon                       run the service in the foreground

Config: --config FILE, else $SIPA_CONFIG, else ${defaultConfigPath()}
Exit codes: 0 ok, 1 failure, 2 bad input, 3 daemon not reachable, 4 not found or conflict.`;

interface Parsed {
  command: string;
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}

const OPTIONS = {
  config: { type: 'string' },
  json: { type: 'boolean' },
  all: { type: 'boolean' },
  for: { type: 'string' },
  session: { type: 'string' },
  lease: { type: 'string' },
  label: { type: 'string' },
  reason: { type: 'string' },
  limit: { type: 'string' },
  portal: { type: 'string' },
  code: { type: 'string' },
  from: { type: 'string' },
  'until-revoked': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const ALLOWED: Record<string, string[]> = {
  status: ['json'], enable: [], disable: [], list: ['all', 'json'], register: ['for', 'session', 'lease', 'until-revoked', 'label', 'from', 'json'],
  revoke: ['reason', 'from', 'json'], audit: ['limit', 'json'], bind: ['portal', 'code', 'json'], unbind: ['json'], doctor: ['json'],
  selftest: ['json'], daemon: [], 'uninstall-cleanup': [],
};

export function parseCommandLine(argv: string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message;
    const ambiguous = /Option '(--\w+)' argument is ambiguous/.exec(msg);
    throw new UsageError(ambiguous
      ? `${ambiguous[1]} needs a value; a value starting with "-" is written ${ambiguous[1]}=VALUE (see sipa --help)`
      : `${msg.split('\n')[0]} (see sipa --help)`);
  }
  const [command = 'help', ...positionals] = parsed.positionals;
  const values = parsed.values as Parsed['values'];
  if (values.help || command === 'help') return { command: 'help', positionals: [], values };
  const allowed = ALLOWED[command];
  if (!allowed) throw new UsageError(`unknown command "${command}" (see sipa --help)`);
  for (const key of Object.keys(values)) {
    if (key !== 'config' && values[key] !== undefined && !allowed.includes(key)) {
      throw new UsageError(`${command} does not take --${key} (see sipa --help)`);
    }
  }
  const fromFile = values.from !== undefined;
  if (fromFile && (values.session !== undefined || values.lease !== undefined || values.label !== undefined)) {
    throw new UsageError('--from FILE takes the label and duration from each line (and --for or --until-revoked as the default)');
  }
  if (fromFile && values.for !== undefined && values['until-revoked'] !== undefined) {
    throw new UsageError('--for and --until-revoked are two defaults for the lines of --from FILE: give one');
  }
  const wantPositionals = (command === 'register' || command === 'revoke') && !fromFile ? 1 : 0;
  const several = command === 'register' && !fromFile && positionals.length > 1;
  if (positionals.length !== wantPositionals && !several) {
    throw new UsageError(wantPositionals
      ? `${command} needs ${command === 'register' ? 'one ADDRESS or more (or --from FILE)' : 'exactly one ID or ADDRESS'}, got ${positionals.length ? positionals.map(p => `"${p}"`).join(' ') : 'none'}`
      : `${command} takes no arguments, got ${positionals.map(p => `"${p}"`).join(' ')}`);
  }
  return { command, positionals, values };
}

/** The request body for `sipa register`, from the command line. */
export function registerBody(p: Parsed): { address: string; moreAddresses?: string[]; label?: string; expiry: ExpiryRequest } {
  const forText = p.values.for as string | undefined;
  const session = p.values.session as string | undefined;
  const untilRevoked = p.values['until-revoked'] === true;
  if ([forText !== undefined, session !== undefined, untilRevoked].filter(Boolean).length !== 1) {
    throw new UsageError('register needs one of --for DURATION, --session ID or --until-revoked');
  }
  if (p.values.lease !== undefined && session === undefined) throw new UsageError('--lease goes with --session');
  const label = p.values.label as string | undefined;
  try {
    const expiry: ExpiryRequest = untilRevoked ? { policy: 'until-revoked' }
      : forText !== undefined
        ? { policy: 'fixed', seconds: parseDuration(forText, '--for') }
        : { policy: 'session', sessionId: session!, leaseSeconds: parseDuration((p.values.lease as string | undefined) ?? '15m', '--lease') };
    const [address, ...more] = p.positionals;
    return { address, ...(more.length ? { moreAddresses: more } : {}), ...(label !== undefined ? { label } : {}), expiry };
  } catch (e) {
    if (e instanceof DurationError) throw new UsageError(e.message);
    throw e;
  }
}

/** The whole config, validated (the verbs that run the service or look at the kernel). */
async function readConfig(p: Parsed): Promise<Config> {
  const { loadConfig, ConfigError, checkConfig } = await import('../config');
  const file = (p.values.config as string | undefined) ?? defaultConfigPath();
  try {
    return loadConfig(file);
  } catch (e) {
    // Without --config and without a config file, the defaults still say where the daemon's socket is.
    if (e instanceof ConfigError && p.values.config === undefined && /cannot read it \(ENOENT\)/.test(e.message)) return checkConfig({});
    throw e;
  }
}

/** The daemon's socket, from the config's runDir alone; a config the hand check cannot read gets the full one. */
async function socketOf(p: Parsed): Promise<string> {
  const runDir = runDirOf((p.values.config as string | undefined) ?? defaultConfigPath(), p.values.config !== undefined);
  return socketPath(runDir ?? (await readConfig(p)).runDir);
}

function print(p: Parsed, data: unknown, text: () => string): void {
  process.stdout.write(`${p.values.json ? JSON.stringify(data, null, 2) : text()}\n`);
}

export async function main(argv: string[]): Promise<number> {
  let p: Parsed | undefined;
  try {
    p = parseCommandLine(argv);
    if (p.command === 'help') {
      process.stdout.write(`${HELP}\n`);
      return 0;
    }
    if (p.command === 'selftest') return (await import('./selftest')).selftest(p.values.json === true);
    if (p.command === 'daemon') return (await import('./daemon')).runDaemon(await readConfig(p), (p.values.config as string | undefined) ?? defaultConfigPath());
    if (p.command === 'uninstall-cleanup') return (await import('./doctor')).uninstallCleanup(await readConfig(p));
    if (p.command === 'doctor') {
      const config = await readConfig(p);
      return (await import('./doctor')).doctor(config, socketPath(config.runDir), p.values.json === true);
    }
    return await clientVerb(p, await socketOf(p));
  } catch (e) {
    // No daemon at the socket: a config the daemon would refuse is the likelier story, and says what to fix.
    if (e instanceof DaemonUnreachable && p) {
      try {
        await readConfig(p);
      } catch (configError) {
        return report(configError);
      }
    }
    return report(e);
  }
}

/** The verbs that are one request to the daemon (or a batch of them). */
async function clientVerb(p: Parsed, sock: string): Promise<number> {
  switch (p.command) {
    case 'status': {
      const s = await apiRequest<Status>(sock, 'GET', '/api/v1/status');
      print(p, s, () => statusText(s));
      return 0;
    }
    case 'enable':
    case 'disable': {
      const s = await apiRequest<Status>(sock, 'POST', `/api/v1/${p.command}`, {});
      process.stdout.write(`Secure IP Access is ${s.enabled ? 'enabled: only registered addresses and the LAN may connect' : 'disabled'}\n`);
      return 0;
    }
    case 'list': {
      const r = await apiRequest<{ devices: Device[] }>(sock, 'GET', `/api/v1/devices${p.values.all ? '?all=1' : ''}`);
      print(p, r.devices, () => devicesTable(r.devices));
      return 0;
    }
    case 'register': {
      if (p.values.from !== undefined) return await registerFromFile(p, sock);
      const r = await apiRequest<{ device: Device }>(sock, 'POST', '/api/v1/devices', registerBody(p));
      print(p, r.device, () => `registered device ${r.device.id}: ${r.device.addresses.join(' ')} ${r.device.expiresAt === null ? 'until revoked (sipa revoke ends it)' : `until ${new Date(r.device.expiresAt).toISOString()}`}${r.device.policy === 'session' ? ` (session ${r.device.sessionId}, lease renews)` : ''}`);
      return 0;
    }
    case 'revoke': {
      if (p.values.from !== undefined) return await revokeFromFile(p, sock);
      const body = p.values.reason !== undefined ? { reason: p.values.reason } : {};
      const r = await apiRequest<{ device: Device }>(sock, 'POST', `/api/v1/devices/${encodeURIComponent(p.positionals[0])}/revoke`, body);
      print(p, r.device, () => `revoked device ${r.device.id} (${r.device.address}); its open connections were cut`);
      return 0;
    }
    case 'audit': {
      const limit = p.values.limit === undefined ? 50 : Number(p.values.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError(`--limit must be a whole number from 1 to 1000, got "${p.values.limit}"`);
      const r = await apiRequest<{ entries: AuditEntry[] }>(sock, 'GET', `/api/v1/audit?limit=${limit}`);
      print(p, r.entries, () => auditTable(r.entries));
      return 0;
    }
    case 'bind': {
      if (typeof p.values.portal !== 'string' || typeof p.values.code !== 'string') throw new UsageError('bind needs --portal URL and --code CODE');
      const r = await apiRequest<Record<string, unknown>>(sock, 'POST', '/api/v1/portal/bind', { portalUrl: p.values.portal, code: p.values.code });
      print(p, r, () => `bound to the portal ${p.values.portal} (${JSON.stringify(r)})`);
      return 0;
    }
    case 'unbind': {
      const r = await apiRequest<Record<string, unknown>>(sock, 'POST', '/api/v1/portal/unbind', {});
      print(p, r, () => 'unbound from the portal; registrations from the portal are revoked');
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${p.command}"`);
  }
}

async function registerFromFile(p: Parsed, sock: string): Promise<number> {
  const lines = readRegisterFile(p.values.from as string, p.values['until-revoked'] === true ? UNTIL_REVOKED : p.values.for as string | undefined);
  try {
    const r = await apiRequest<{ registered: number; renewed: number; ids: number[] }>(sock, 'POST', '/api/v1/devices/batch', { devices: lines.map(l => l.item) }, 120_000);
    print(p, r, () => `registered ${r.registered} devices (${r.renewed} of them renewed) from ${p.values.from}`);
    return 0;
  } catch (e) {
    if (e instanceof ApiFailure && e.items.length) throw new ApiFailure(e.status, e.code, `${e.message}\n${itemsAsLines(e.items, lines)}`, e.field);
    throw e;
  }
}

async function revokeFromFile(p: Parsed, sock: string): Promise<number> {
  const lines = readRevokeFile(p.values.from as string);
  const body = { devices: lines.map(l => l.item), ...(p.values.reason !== undefined ? { reason: p.values.reason } : {}) };
  const r = await apiRequest<{ revoked: number; ids: number[]; notFound: Array<string | number> }>(sock, 'POST', '/api/v1/devices/batch-revoke', body, 120_000);
  print(p, r, () => `revoked ${r.revoked} devices; their open connections were cut${r.notFound.length ? `\nno active device for: ${r.notFound.slice(0, 20).join(', ')}${r.notFound.length > 20 ? ', …' : ''}` : ''}`);
  return 0;
}

function report(e: unknown): number {
  const say = (msg: string) => process.stderr.write(`sipa: ${msg}\n`);
  // ConfigError by name: its module (with the validator) is loaded only when a config was validated.
  if (e instanceof UsageError || e instanceof BatchFileError || (e instanceof Error && e.name === 'ConfigError')) {
    say(e.message);
    return 2;
  }
  if (e instanceof DaemonUnreachable) {
    say(e.message);
    return 3;
  }
  if (e instanceof ApiFailure) {
    say(e.message);
    if (e.status === 400 || e.status === 413) return 2;
    if (e.status === 404 || e.status === 409) return 4;
    return 1;
  }
  say(e instanceof Error ? e.message : String(e));
  return 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(code => {
    process.exitCode = code;
  });
}
