// The enforcement chain, one per family, jumped to first from INPUT. Rules come from fixed templates and are
// installed with `iptables-restore --noflush` of the legacy backend (the one QTS has); no user text reaches them.
import { CommandRunner, findProgram } from './command';
import { Family } from './native';

export type Protect = 'all' | { tcp: number[]; udp: number[] };
export type Action = 'drop' | 'reject';

export interface FirewallNames {
  chain: string;
  allow: Record<Family, string>;
  lan: Record<Family, string>;
}

export interface FirewallPlan {
  names: FirewallNames;
  protect: Protect;
  action: Action;
}

export interface FirewallCheck {
  ok: boolean;
  problems: string[];
}

export class FirewallError extends Error {
  override readonly name = 'FirewallError';
  constructor(message: string, readonly family: Family, readonly stderr: string) {
    super(message);
  }
}

const NAME = /^[A-Za-z0-9_]{1,28}$/;
const MULTIPORT_MAX = 15;

function tools(family: Family): { save: string; restore: string } {
  const base = family === 4 ? 'iptables' : 'ip6tables';
  // Debian's plain names are the nft variant; QTS has only the legacy one, under the plain name.
  const legacy = findProgram(`${base}-legacy-restore`);
  return legacy
    ? { save: `${base}-legacy-save`, restore: `${base}-legacy-restore` }
    : { save: `${base}-save`, restore: `${base}-restore` };
}

function checkPlan(plan: FirewallPlan): void {
  const n = plan.names;
  for (const name of [n.chain, n.allow[4], n.allow[6], n.lan[4], n.lan[6]]) {
    if (!NAME.test(name)) throw new Error(`firewall: name "${name}" is not a plain identifier`);
  }
  if (plan.protect !== 'all') {
    for (const p of [...plan.protect.tcp, ...plan.protect.udp]) {
      if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`firewall: port ${p} is not 1..65535`);
    }
  }
}

function chunks(ports: number[]): string[] {
  const out: string[] = [];
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i += MULTIPORT_MAX) out.push(sorted.slice(i, i + MULTIPORT_MAX).join(','));
  return out;
}

/** The chain's rules, in order: what returns to INPUT (allowed) first, then what is refused. */
export function chainRules(family: Family, plan: FirewallPlan): string[] {
  checkPlan(plan);
  const c = `-A ${plan.names.chain}`;
  const unreachable = family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
  const rules = [`${c} -i lo -j RETURN`, `${c} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`];
  if (family === 6) {
    // Router and neighbour discovery: IPv6 itself stops working without them.
    for (const t of [133, 134, 135, 136, 137]) rules.push(`${c} -p ipv6-icmp -m icmp6 --icmpv6-type ${t} -j RETURN`);
  }
  rules.push(`${c} -m set --match-set ${plan.names.lan[family]} src -j RETURN`);
  rules.push(`${c} -m set --match-set ${plan.names.allow[family]} src -j RETURN`);
  // A TCP segment that is not a SYN here belongs to a flow that was cut (or never allowed): reset it so that
  // both ends learn at once instead of retransmitting into silence.
  const notSyn = '-m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -j REJECT --reject-with tcp-reset';
  const refuseTcp = plan.action === 'reject' ? 'REJECT --reject-with tcp-reset' : 'DROP';
  const refuseOther = plan.action === 'reject' ? `REJECT --reject-with ${unreachable}` : 'DROP';
  if (plan.protect === 'all') {
    rules.push(`${c} -p tcp ${notSyn}`, `${c} -p tcp -j ${refuseTcp}`, `${c} -j ${refuseOther}`);
  } else {
    for (const list of chunks(plan.protect.tcp)) {
      const ports = `-p tcp -m multiport --dports ${list}`;
      rules.push(`${c} ${ports} ${notSyn}`, `${c} ${ports} -j ${refuseTcp}`);
    }
    for (const list of chunks(plan.protect.udp)) rules.push(`${c} -p udp -m multiport --dports ${list} -j ${refuseOther}`);
  }
  return rules;
}

/** The output chain's name beside the input chain's: SIPA_INPUT → SIPA_OUTPUT. */
export function outputChainOf(chain: string): string {
  return chain.endsWith('_INPUT') ? `${chain.slice(0, -'_INPUT'.length)}_OUTPUT` : `${chain.slice(0, 24)}_OUT`;
}

/**
 * The output chain's rules. Once a cut flow's conntrack entry is gone, the NAS's next segment of it (a download
 * still being sent) would be picked up as a new flow started by the NAS, and the device's answers would pass as
 * its replies. A TCP segment that starts a flow without being a SYN, going to a source that is neither LAN nor
 * allowed, is such a remnant: reset it, so the NAS's side of the connection ends too.
 */
export function outputRules(family: Family, plan: FirewallPlan): string[] {
  checkPlan(plan);
  const c = `-A ${outputChainOf(plan.names.chain)}`;
  const remnant = '-m conntrack --ctstate NEW -m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN -j REJECT --reject-with tcp-reset';
  const rules = [
    `${c} -o lo -j RETURN`,
    `${c} -m set --match-set ${plan.names.lan[family]} dst -j RETURN`,
    `${c} -m set --match-set ${plan.names.allow[family]} dst -j RETURN`,
  ];
  if (plan.protect === 'all') rules.push(`${c} -p tcp ${remnant}`);
  else for (const list of chunks(plan.protect.tcp)) rules.push(`${c} -p tcp -m multiport --sports ${list} ${remnant}`);
  return rules;
}

type Hook = 'INPUT' | 'OUTPUT';

interface ParsedFilter {
  chains: Set<string>;
  /** The rules of INPUT and OUTPUT, as saved. */
  hooks: Record<Hook, string[]>;
  rules: Map<string, string[]>;
}

function parseSave(text: string): ParsedFilter {
  const out: ParsedFilter = { chains: new Set(), hooks: { INPUT: [], OUTPUT: [] }, rules: new Map() };
  let inFilter = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) inFilter = line === '*filter';
    if (!inFilter) continue;
    if (line.startsWith(':')) out.chains.add(line.slice(1).split(' ')[0]);
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (m) {
      if (m[1] === 'INPUT' || m[1] === 'OUTPUT') out.hooks[m[1]].push(line);
      else out.rules.set(m[1], [...(out.rules.get(m[1]) ?? []), line]);
    }
  }
  return out;
}

/** Our two chains and the built-in chain that jumps to each first. */
function chainsOf(plan: FirewallPlan): Array<{ hook: Hook; chain: string; rules: (f: Family, p: FirewallPlan) => string[] }> {
  return [
    { hook: 'INPUT', chain: plan.names.chain, rules: chainRules },
    { hook: 'OUTPUT', chain: outputChainOf(plan.names.chain), rules: outputRules },
  ];
}

export class Firewall {
  /** The rules as the kernel printed them back after our last install: what verify compares against. */
  private readonly installed = new Map<string, string[]>();

  constructor(private readonly run: CommandRunner) {}

  private async save(family: Family): Promise<ParsedFilter> {
    const t = tools(family);
    const r = await this.run(t.save, ['-t', 'filter']);
    if (r.code !== 0) throw new FirewallError(`${t.save} failed: ${r.stderr.trim()}`, family, r.stderr);
    return parseSave(r.stdout);
  }

  private async restore(family: Family, lines: string[]): Promise<void> {
    const t = tools(family);
    const r = await this.run(t.restore, ['--noflush'], ['*filter', ...lines, 'COMMIT', ''].join('\n'));
    if (r.code !== 0) {
      throw new FirewallError(`${t.restore} refused the IPv${family} rules: ${r.stderr.trim()}`, family, r.stderr);
    }
  }

  /** Writes both chains (replacing their rules) and makes each one's jump the first rule of its hook. */
  async install(family: Family, plan: FirewallPlan): Promise<void> {
    const before = await this.save(family);
    const lines: string[] = [];
    for (const { hook, chain, rules } of chainsOf(plan)) {
      lines.push(`:${chain} - [0:0]`);
      if (before.chains.has(chain)) lines.push(`-F ${chain}`);
      lines.push(...rules(family, plan));
      for (const r of before.hooks[hook]) if (r === `-A ${hook} -j ${chain}`) lines.push(`-D ${hook} -j ${chain}`);
      lines.push(`-I ${hook} 1 -j ${chain}`);
    }
    await this.restore(family, lines);
    const after = await this.save(family);
    for (const { chain } of chainsOf(plan)) this.installed.set(`${family}:${chain}`, after.rules.get(chain) ?? []);
  }

  /** What is wrong with the chains and jumps now, compared with what we installed. */
  async verify(family: Family, plan: FirewallPlan): Promise<FirewallCheck> {
    const now = await this.save(family);
    const problems: string[] = [];
    for (const { hook, chain } of chainsOf(plan)) {
      const jump = `-A ${hook} -j ${chain}`;
      if (!now.chains.has(chain)) problems.push(`IPv${family} chain ${chain} is missing`);
      const jumps = now.hooks[hook].filter(r => r === jump).length;
      if (jumps === 0) problems.push(`IPv${family} jump from ${hook} to ${chain} is missing`);
      else if (now.hooks[hook][0] !== jump) problems.push(`IPv${family} jump to ${chain} is not the first rule of ${hook}`);
      else if (jumps > 1) problems.push(`IPv${family} ${hook} jumps to ${chain} ${jumps} times`);
      const expected = this.installed.get(`${family}:${chain}`);
      const rules = now.rules.get(chain) ?? [];
      if (now.chains.has(chain) && expected && rules.join('\n') !== expected.join('\n')) {
        problems.push(`IPv${family} chain ${chain} has ${rules.length} rules, not the ${expected.length} installed`);
      }
    }
    return { ok: problems.length === 0, problems };
  }

  /** Removes the jumps and the chains; absent ones are fine. */
  async remove(family: Family, plan: FirewallPlan): Promise<void> {
    const now = await this.save(family);
    const lines: string[] = [];
    for (const { hook, chain } of chainsOf(plan)) {
      for (const r of now.hooks[hook]) if (r === `-A ${hook} -j ${chain}`) lines.push(`-D ${hook} -j ${chain}`);
      if (now.chains.has(chain)) lines.push(`-F ${chain}`, `-X ${chain}`);
      this.installed.delete(`${family}:${chain}`);
    }
    if (lines.length) await this.restore(family, lines);
  }
}
