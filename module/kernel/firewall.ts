// The enforcement chains, per family: input (jumped to first from INPUT), output (from OUTPUT) and forward (from
// FORWARD and Docker's DOCKER-USER, for flows the NAS destination-NATed). Rules come from fixed templates and are
// installed with `iptables-restore --noflush` of the legacy backend (the one QTS has); no user text reaches them.
import { CommandRunner, findProgram } from './command';
import { Family } from './native';
import type { KernelNames } from '../config';

export type Protect = 'all' | { tcp: number[]; udp: number[] };
export type Action = 'drop' | 'reject';


export interface FirewallPlan {
  names: KernelNames;
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

/** The TCP and other-protocol matches that make up the protected scope, one rule's worth each. */
interface Scope {
  tcp: string[];
  other: string[];
}

/** The protected scope by the NAS's own port: `--dports` on the way in, `--sports` on the way out. */
function portScope(plan: FirewallPlan, dir: 'dports' | 'sports'): Scope {
  if (plan.protect === 'all') return { tcp: ['-p tcp'], other: [''] };
  return {
    tcp: chunks(plan.protect.tcp).map(list => `-p tcp -m multiport --${dir} ${list}`),
    other: chunks(plan.protect.udp).map(list => `-p udp -m multiport --${dir} ${list}`),
  };
}

/**
 * The protected scope of forwarded flows, by the NAS port the flow was sent to before the NAS translated it (the
 * original destination port; multiport cannot match it, so one rule per port).
 */
function forwardScope(plan: FirewallPlan): Scope {
  if (plan.protect === 'all') return { tcp: ['-p tcp'], other: [''] };
  const byPort = (proto: string, ports: number[]) =>
    [...new Set(ports)].sort((a, b) => a - b).map(p => `-p ${proto} -m conntrack --ctorigdstport ${p}`);
  return { tcp: byPort('tcp', plan.protect.tcp), other: byPort('udp', plan.protect.udp) };
}

// A TCP segment that is not a SYN belongs to a flow already open (or cut): reset it so that both ends learn at
// once instead of retransmitting into silence.
const NOT_SYN = '-m tcp ! --tcp-flags FIN,SYN,RST,ACK SYN';
const RESET = '-j REJECT --reject-with tcp-reset';

/** What refuses a packet of a flow that a source which is not allowed started: reset TCP, drop or reject the rest. */
function refusals(c: string, family: Family, plan: FirewallPlan, scope: Scope): string[] {
  const unreachable = family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable';
  const refuseTcp = plan.action === 'reject' ? 'REJECT --reject-with tcp-reset' : 'DROP';
  const refuseOther = plan.action === 'reject' ? `REJECT --reject-with ${unreachable}` : 'DROP';
  const rules: string[] = [];
  for (const m of scope.tcp) rules.push(`${c} ${m} ${NOT_SYN} ${RESET}`, `${c} ${m} -j ${refuseTcp}`);
  for (const m of scope.other) rules.push(`${c} ${m} -j ${refuseOther}`.replace(/ {2,}/g, ' '));
  return rules;
}

/** ICMP errors about a tracked flow (path MTU, unreachable) pass whoever sends them: they carry no data. */
function relatedIcmp(c: string, family: Family): string {
  return `${c} -p ${family === 4 ? 'icmp' : 'ipv6-icmp'} -m conntrack --ctstate RELATED -j RETURN`;
}

/**
 * The input chain's rules, in order: what returns to INPUT (allowed) first, then what is refused.
 * Only the replies of flows the NAS started (`--ctdir REPLY`) pass on their state alone. Every packet in the
 * original direction, of a new flow or an established one, is checked against the LAN and allow sets: a flow
 * whose source is not allowed (opened before enable, of a revoked network, of a device that expired while the
 * daemon was down) is refused at its next packet, whether or not its conntrack entry was deleted.
 */
export function chainRules(family: Family, plan: FirewallPlan): string[] {
  checkPlan(plan);
  const c = `-A ${plan.names.chain}`;
  const rules = [
    `${c} -i lo -j RETURN`,
    `${c} -m conntrack --ctstate RELATED,ESTABLISHED --ctdir REPLY -j RETURN`,
    relatedIcmp(c, family),
  ];
  if (family === 6) {
    // Router and neighbour discovery: IPv6 itself stops working without them.
    for (const t of [133, 134, 135, 136, 137]) rules.push(`${c} -p ipv6-icmp -m icmp6 --icmpv6-type ${t} -j RETURN`);
  }
  rules.push(`${c} -m set --match-set ${plan.names.lan[family]} src -j RETURN`);
  rules.push(`${c} -m set --match-set ${plan.names.allow[family]} src -j RETURN`);
  rules.push(...refusals(c, family, plan, portScope(plan, 'dports')));
  return rules;
}

/** The output chain's name beside the input chain's: SIPA_INPUT → SIPA_OUTPUT. */
export function outputChainOf(chain: string): string {
  return chain.endsWith('_INPUT') ? `${chain.slice(0, -'_INPUT'.length)}_OUTPUT` : `${chain.slice(0, 24)}_OUT`;
}

/** The forward chain's name beside the input chain's: SIPA_INPUT → SIPA_FORWARD. */
export function forwardChainOf(chain: string): string {
  return chain.endsWith('_INPUT') ? `${chain.slice(0, -'_INPUT'.length)}_FORWARD` : `${chain.slice(0, 24)}_FWD`;
}

/**
 * The output chain's rules: the NAS's side of a flow whose far end is neither LAN nor allowed, on a protected
 * port. Two cases. The NAS answering a flow such a source started (`--ctstate ESTABLISHED --ctdir REPLY`, e.g. a
 * download still being sent after the device was revoked): reset, so the NAS's socket ends too. And a TCP
 * segment that starts a flow without being a SYN: once a cut flow's conntrack entry is gone, the NAS's next
 * segment of it would be picked up as a new flow started by the NAS, and the device's answers would pass as its
 * replies; reset it. A reset the chains send on their own is RELATED, never matched here. Other protocols'
 * answers to such a source are dropped.
 */
export function outputRules(family: Family, plan: FirewallPlan): string[] {
  checkPlan(plan);
  const c = `-A ${outputChainOf(plan.names.chain)}`;
  const scope = portScope(plan, 'sports');
  const rules = [
    `${c} -o lo -j RETURN`,
    `${c} -m set --match-set ${plan.names.lan[family]} dst -j RETURN`,
    `${c} -m set --match-set ${plan.names.allow[family]} dst -j RETURN`,
  ];
  for (const m of scope.tcp) {
    rules.push(`${c} ${m} -m conntrack --ctstate ESTABLISHED --ctdir REPLY ${RESET}`);
    rules.push(`${c} ${m} -m conntrack --ctstate NEW ${NOT_SYN} ${RESET}`);
  }
  for (const m of scope.other) rules.push(`${c} ${m} -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j DROP`.replace(/ {2,}/g, ' '));
  return rules;
}

/**
 * The forward chain's rules, for flows the NAS destination-NATed (a port it publishes for a container or a VM:
 * the jumps carry `--ctstate DNAT`, so traffic the NAS merely routes never gets here). The same sets decide: the
 * original direction by its source, the reply direction by its destination. A reply to a source that is not
 * allowed resets the container's side (TCP) or is dropped; the source's own packets are refused like at INPUT.
 */
export function forwardRules(family: Family, plan: FirewallPlan): string[] {
  checkPlan(plan);
  const c = `-A ${forwardChainOf(plan.names.chain)}`;
  const { lan, allow } = plan.names;
  const scope = forwardScope(plan);
  const rules = [
    relatedIcmp(c, family),
    `${c} -m conntrack --ctdir ORIGINAL -m set --match-set ${lan[family]} src -j RETURN`,
    `${c} -m conntrack --ctdir ORIGINAL -m set --match-set ${allow[family]} src -j RETURN`,
    `${c} -m conntrack --ctdir REPLY -m set --match-set ${lan[family]} dst -j RETURN`,
    `${c} -m conntrack --ctdir REPLY -m set --match-set ${allow[family]} dst -j RETURN`,
  ];
  for (const m of scope.tcp) rules.push(`${c} ${m} -m conntrack --ctstate ESTABLISHED --ctdir REPLY ${RESET}`);
  for (const m of scope.other) rules.push(`${c} ${m} -m conntrack --ctstate ESTABLISHED --ctdir REPLY -j DROP`.replace(/ {2,}/g, ' '));
  rules.push(`${c} -m conntrack --ctdir REPLY -j RETURN`);
  rules.push(...refusals(c, family, plan, scope));
  return rules;
}

/** Docker's chain for the admin's own forward rules, evaluated before Docker accepts traffic to its containers. */
export const DOCKER_USER = 'DOCKER-USER';

interface ParsedFilter {
  chains: Set<string>;
  /** The rules of every chain (built-in ones too), as saved. */
  rules: Map<string, string[]>;
}

function parseSave(text: string): ParsedFilter {
  const out: ParsedFilter = { chains: new Set(), rules: new Map() };
  let inFilter = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) inFilter = line === '*filter';
    if (!inFilter) continue;
    if (line.startsWith(':')) out.chains.add(line.slice(1).split(' ')[0]);
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (m) out.rules.set(m[1], [...(out.rules.get(m[1]) ?? []), line]);
  }
  return out;
}

interface Jump {
  /** The chain that jumps: a built-in hook, or Docker's chain when it exists. */
  from: string;
  /** The rule as iptables-save prints it; it must be the first rule of `from`. */
  rule: string;
  /** Only where `from` exists (Docker's chain is Docker's to create). */
  optional: boolean;
}

/** Our chains and the jumps that lead to each first. */
function chainsOf(plan: FirewallPlan): Array<{ chain: string; rules: (f: Family, p: FirewallPlan) => string[]; jumps: Jump[] }> {
  const input = plan.names.chain;
  const output = outputChainOf(input);
  const forward = forwardChainOf(input);
  const dnat = `-m conntrack --ctstate DNAT -j ${forward}`;
  return [
    { chain: input, rules: chainRules, jumps: [{ from: 'INPUT', rule: `-A INPUT -j ${input}`, optional: false }] },
    { chain: output, rules: outputRules, jumps: [{ from: 'OUTPUT', rule: `-A OUTPUT -j ${output}`, optional: false }] },
    {
      chain: forward,
      rules: forwardRules,
      jumps: [
        { from: 'FORWARD', rule: `-A FORWARD ${dnat}`, optional: false },
        { from: DOCKER_USER, rule: `-A ${DOCKER_USER} ${dnat}`, optional: true },
      ],
    },
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

  /** Writes our chains (replacing their rules) and makes each jump the first rule of the chain it leaves. */
  async install(family: Family, plan: FirewallPlan): Promise<void> {
    const before = await this.save(family);
    const lines: string[] = [];
    for (const { chain, rules, jumps } of chainsOf(plan)) {
      lines.push(`:${chain} - [0:0]`);
      if (before.chains.has(chain)) lines.push(`-F ${chain}`);
      lines.push(...rules(family, plan));
      for (const j of jumps) {
        if (j.optional && !before.chains.has(j.from)) continue;
        for (const r of before.rules.get(j.from) ?? []) if (r === j.rule) lines.push(`-D ${j.rule.slice(3)}`);
        lines.push(`-I ${j.from} 1 ${j.rule.slice(3 + j.from.length + 1)}`);
      }
    }
    await this.restore(family, lines);
    const after = await this.save(family);
    for (const { chain } of chainsOf(plan)) this.installed.set(`${family}:${chain}`, after.rules.get(chain) ?? []);
  }

  /** What is wrong with the chains and jumps now, compared with what we installed. */
  async verify(family: Family, plan: FirewallPlan): Promise<FirewallCheck> {
    const now = await this.save(family);
    const problems: string[] = [];
    for (const { chain, jumps } of chainsOf(plan)) {
      if (!now.chains.has(chain)) problems.push(`IPv${family} chain ${chain} is missing`);
      for (const j of jumps) {
        if (j.optional && !now.chains.has(j.from)) continue;
        const there = now.rules.get(j.from) ?? [];
        const count = there.filter(r => r === j.rule).length;
        if (count === 0) problems.push(`IPv${family} jump from ${j.from} to ${chain} is missing`);
        else if (there[0] !== j.rule) problems.push(`IPv${family} jump to ${chain} is not the first rule of ${j.from}`);
        else if (count > 1) problems.push(`IPv${family} ${j.from} jumps to ${chain} ${count} times`);
      }
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
    for (const { chain, jumps } of chainsOf(plan)) {
      for (const j of jumps) for (const r of now.rules.get(j.from) ?? []) if (r === j.rule) lines.push(`-D ${j.rule.slice(3)}`);
      if (now.chains.has(chain)) lines.push(`-F ${chain}`, `-X ${chain}`);
      this.installed.delete(`${family}:${chain}`);
    }
    if (lines.length) await this.restore(family, lines);
  }
}
