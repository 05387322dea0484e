// The one JSON config file: read, validated with ajv (defaults filled in), and checked across fields.
// An error names the file, the path at fault and what was expected.
import fs from 'node:fs';
import { AddressError, parseNetwork } from '../domain';
import { faultsOf, validatorFor } from './schemas';

export interface FirewallConfig {
  protect: 'all' | { tcp: number[]; udp: number[] };
  lan: 'auto' | string[];
  extraLan: string[];
  action: 'drop' | 'reject';
  chain: string;
  setPrefix: string;
}

export interface ApiConfig {
  http: { enabled: boolean; host: string; port: number };
  token: string | null;
  /** authLogin.cgi on loopback; null (the default): QTS's own web port from qtsConfigFile. */
  qtsAuthUrl: string | null;
  /** QTS's configuration, where its web port is (`Web Access Port` in [System]); default /etc/config/uLinux.conf. */
  qtsConfigFile?: string;
  allowedHosts: string[];
  panelDir: string | null;
  /**
   * The path QTS's web server proxies to this port (the package's QPKG_PROXY_PATH, default /sipa): requests under
   * it are served as at /, for a proxy that passes the prefix on as well as for one that strips it.
   */
  proxyPath?: string | null;
}

export interface PortalConfig {
  url: string | null;
  skewSeconds: number;
  leaseGraceSeconds: number;
  heartbeatSeconds: number;
  reconnectMinSeconds: number;
  reconnectMaxSeconds: number;
  requestTimeoutSeconds: number;
  /** Plain HTTP to a portal that is not on loopback (the namespace demo only). */
  insecureHttp: boolean;
  nasName: string | null;
}

export interface Config {
  dataDir: string;
  runDir: string;
  netns: string | null;
  firewall: FirewallConfig;
  policy: {
    minSeconds: number; maxSeconds: number; allowPrefixes: boolean; maxPrefixWidthV4: number; maxPrefixWidthV6: number;
    /** 'network': an IPv6 registration allows its /64 (survives temporary-address rotation); 'address': the /128. */
    ipv6Scope: 'address' | 'network';
    maxIpv6PerDevice: number;
    /** An administrator may register a device with no end, until it is revoked; a device never registers itself so. */
    allowUntilRevoked: boolean;
  };
  limits: { maxEntries: number };
  reconcile: { intervalSeconds: number };
  prune: { schedule: string; endedDeviceDays: number; auditMaxDays: number; auditMaxRows: number };
  api: ApiConfig;
  portal: PortalConfig;
  log: { level: 'debug' | 'info' | 'warn' | 'error' };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'bad_config';
  constructor(message: string, readonly file: string | null, readonly field: string | null) {
    super(message);
  }
}

/** Validates a parsed config object; fills in defaults. `file` only names the source in messages. */
export function checkConfig(raw: unknown, file: string | null = null): Config {
  const where = file ? `config ${file}: ` : 'config: ';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${where}the top level must be a JSON object`, file, null);
  }
  const copy = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
  const v = validatorFor('config.schema.json');
  if (!v(copy)) {
    const [first, ...others] = faultsOf(v.errors);
    const more = others.length ? ` (and ${others.length} more: ${others.slice(0, 3).map(f => f.text).join('; ')})` : '';
    throw new ConfigError(`${where}${first.text}${more}`, file, first.field || null);
  }
  const config = copy as unknown as Config;
  if (config.policy.minSeconds > config.policy.maxSeconds) {
    throw new ConfigError(`${where}policy.minSeconds (${config.policy.minSeconds}) is above policy.maxSeconds (${config.policy.maxSeconds})`, file, 'policy.minSeconds');
  }
  const lan = config.firewall.lan === 'auto' ? [] : config.firewall.lan;
  for (const [key, list] of [['firewall.lan', lan], ['firewall.extraLan', config.firewall.extraLan]] as const) {
    list.forEach((text, i) => {
      try {
        parseNetwork(text);
      } catch (e) {
        if (e instanceof AddressError) throw new ConfigError(`${where}${key}[${i}]: ${e.message}`, file, `${key}.${i}`);
        throw e;
      }
    });
  }
  return config;
}

/** Reads and validates the config file. A missing file is an error: the daemon never guesses its state dir. */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`config ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`, file, null);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config ${file}: not valid JSON (${(e as Error).message})`, file, null);
  }
  return checkConfig(raw, file);
}

/** The kernel object names the config implies. */
/** The kernel objects the firewall owns: its chain and the allow and LAN set of each family. */
export interface KernelNames {
  chain: string;
  allow: Record<4 | 6, string>;
  lan: Record<4 | 6, string>;
}

/**
 * The keys marked restartRequired in config.schema.json whose values differ: what a reload cannot apply to a
 * running daemon (paths, kernel object names, the API's listeners, the portal link, the schedules).
 */
export function restartRequiredChanges(before: Config, after: Config): string[] {
  const changed: string[] = [];
  const walk = (schema: SchemaNode, a: unknown, b: unknown, at: string): void => {
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
      const field = at ? `${at}.${key}` : key;
      const x = (a as Record<string, unknown> | undefined)?.[key];
      const y = (b as Record<string, unknown> | undefined)?.[key];
      if (sub.restartRequired) {
        if (JSON.stringify(x) !== JSON.stringify(y)) changed.push(field);
      } else if (sub.properties) {
        walk(sub, x, y, field);
      }
    }
  };
  walk(validatorFor('config.schema.json').schema as SchemaNode, before, after, '');
  return changed;
}

interface SchemaNode { restartRequired?: boolean; properties?: Record<string, SchemaNode> }

export function kernelNames(config: Config): KernelNames {
  const p = config.firewall.setPrefix;
  return {
    chain: config.firewall.chain,
    allow: { 4: `${p}4_allow`, 6: `${p}6_allow` },
    lan: { 4: `${p}4_lan`, 6: `${p}6_lan` },
  };
}
