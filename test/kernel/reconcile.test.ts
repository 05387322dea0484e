// What the reconciler reads from the real kernel, in a namespace: the cheap fingerprint (filter table digests
// and set headers) and the full check's comparison of every set member with what is wanted.
import assert from 'node:assert/strict';
import { addNamespace, inNs, removeNamespace } from '../../scripts/lib/netns';
import { loadNative, NetlinkHandle } from '../../module/kernel/native';
import { commandRunner } from '../../module/kernel/command';
import { Enforcer, Wanted, wantedOf } from '../../module/kernel/enforcer';
import { FirewallPlan } from '../../module/kernel/firewall';
import { parseNetwork } from '../../module/domain/address';
import { checkConfig, kernelNames } from '../../module/config';

/** The names the daemon gives its chain and sets with the default config. */
const names = kernelNames(checkConfig({ dataDir: '/unused' }));
const plan: FirewallPlan = { names, protect: 'all', action: 'drop' };
const net = (text: string) => {
  const n = parseNetwork(text);
  return { family: n.family, bytes: n.bytes, prefix: n.prefix, text: n.text };
};
const allowed = (text: string, timeout: number) => {
  const { family, bytes, prefix } = net(text);
  return { family, bytes, prefix, timeout };
};

describe('kernel: what the reconciler reads (namespace)', function () {
  this.timeout(30000);
  let ns: string;
  let nl: NetlinkHandle;
  let enforcer: Enforcer;
  const ipset = (...args: string[]) => inNs(ns, 'ipset', args);
  const registered = [allowed('203.0.113.10', 600), allowed('2001:db8:2::10', 600), allowed('203.0.113.12', 0), allowed('2001:db8:3::/64', 600)];
  const lan = [net('192.0.2.0/24'), net('2001:db8:1::/64')];
  const wanted = (): Wanted => wantedOf(registered, lan);

  beforeEach(async () => {
    ns = addNamespace(`sipa-krec-${process.pid}`);
    const lib = loadNative();
    nl = lib.open(`/run/netns/${ns}`);
    enforcer = new Enforcer(nl, lib.strerror, commandRunner(ns), names);
    await enforcer.install(plan, 1024);
    enforcer.setLan(lan);
    enforcer.replaceAllowed(registered.filter(a => a.timeout > 0), 1024);
  });
  afterEach(() => {
    nl?.close();
    removeNamespace(ns);
  });

  it('finds nothing wrong when every member is as wanted (an entry ending now may be there or not)', async () => {
    const h = await enforcer.check(plan, wanted());
    assert.deepEqual(h.problems, []);
    assert.equal(h.ok, true);
    ipset('add', 'sipa4_allow', '203.0.113.12', 'timeout', '1');
    assert.deepEqual((await enforcer.check(plan, wanted())).problems, []);
  });

  it('names a swapped member: the unregistered one to take out, the registered one to put back', async () => {
    ipset('del', 'sipa4_allow', '203.0.113.10');
    ipset('add', 'sipa4_allow', '203.0.113.11', 'timeout', '600');
    const h = await enforcer.check(plan, wanted());
    assert.equal(h.ok, false);
    assert.equal(h.damaged, false);
    assert.deepEqual(h.members.extra.map(a => Array.from(a.bytes).join('.')), ['203.0.113.11']);
    assert.deepEqual(h.members.missing.map(a => [Array.from(a.bytes).join('.'), a.timeout]), [['203.0.113.10', 600]]);
    assert.match(h.problems.join('; '), /IPv4 allow set holds 1 entry nobody registered: 203\.0\.113\.11; IPv4 allow set lacks 1 registered entry: 203\.0\.113\.10/);
  });

  it('names an entry made permanent or given another timeout', async () => {
    ipset('del', 'sipa6_allow', '2001:db8:2::10');
    ipset('add', 'sipa6_allow', '2001:db8:2::10', 'timeout', '0');
    const h = await enforcer.check(plan, wanted());
    assert.deepEqual(h.members.missing.map(a => a.timeout), [600]);
    assert.match(h.problems.join(), /IPv6 allow set holds 1 entry with a timeout not its own: 2001:db8:2::10/);
  });

  it('names LAN set members that are not LAN, cutting only single addresses that are neither LAN nor allowed', async () => {
    ipset('add', 'sipa4_lan', '203.0.113.11');      // an intruder
    ipset('add', 'sipa4_lan', '203.0.113.10');      // registered anyway: its flows are its own
    ipset('add', 'sipa4_lan', '192.0.2.7');         // inside the LAN: its flows are LAN flows
    ipset('add', 'sipa6_lan', '2001:db8:2::/64');   // a network: no single source to cut
    ipset('add', 'sipa6_lan', '2001:db8:3::7');     // inside a registered network: its flows are allowed anyway
    ipset('del', 'sipa6_lan', '2001:db8:1::/64');
    const h = await enforcer.check(plan, wanted());
    assert.equal(h.members.lanDiffers, true);
    assert.deepEqual(h.members.lanIntruders.map(a => Array.from(a.bytes).join('.')), ['203.0.113.11']);
    assert.match(h.problems.join('; '), /IPv4 LAN set holds 3 entries not of the LAN/);
    assert.match(h.problems.join('; '), /IPv6 LAN set holds 2 entries not of the LAN/);
    assert.match(h.problems.join('; '), /IPv6 LAN set lacks 1 LAN network: 2001:db8:1::\/64/);
  });

  it('finds an emptied LAN set (link-local included)', async () => {
    ipset('flush', 'sipa4_lan');
    const h = await enforcer.check(plan, wanted());
    assert.match(h.problems.join(), /IPv4 LAN set lacks 2 LAN networks: 169\.254\.0\.0\/16, 192\.0\.2\.0\/24/);
  });

  it('says the structure is damaged when a set or a rule is gone', async () => {
    inNs(ns, 'iptables-legacy', ['-D', 'SIPA_INPUT', '-m', 'set', '--match-set', 'sipa4_lan', 'src', '-j', 'RETURN']);
    const h = await enforcer.check(plan, wanted());
    assert.equal(h.damaged, true);
    assert.match(h.problems.join(), /SIPA_INPUT has \d+ rules, not the \d+ installed/);
  });

  it('the fingerprint stays while only counters and allow members change, and moves with rules, jumps, sets and LAN members', () => {
    const fp = enforcer.fingerprint();
    assert.doesNotMatch(fp, /no-digest/);
    inNs(ns, process.execPath, ['-e', "require('net').connect(9, '127.0.0.1').on('error', () => {})"]);
    ipset('add', 'sipa4_allow', '203.0.113.30', 'timeout', '60');
    assert.equal(enforcer.fingerprint(), fp, 'traffic and a new allow entry leave it');
    const moves: Array<[string, () => void]> = [
      ['a rule replaced in place', () => inNs(ns, 'iptables-legacy', ['-R', 'SIPA_INPUT', '1', '-i', 'lo', '-j', 'ACCEPT'])],
      ['an IPv6 jump deleted', () => inNs(ns, 'ip6tables-legacy', ['-D', 'INPUT', '-j', 'SIPA_INPUT'])],
      ['an address added to a LAN set', () => ipset('add', 'sipa6_lan', '2001:db8:2::11')],
      ['an allow set emptied', () => ipset('flush', 'sipa6_allow')],
      ['the chains flushed', () => { for (const c of ['SIPA_INPUT', 'SIPA_OUTPUT', 'SIPA_FORWARD']) inNs(ns, 'iptables-legacy', ['-F', c]); }],
      ['a set destroyed (no rule refers to it now)', () => ipset('destroy', 'sipa4_lan')],
    ];
    let last = fp;
    for (const [what, change] of moves) {
      change();
      const now = enforcer.fingerprint();
      assert.notEqual(now, last, what);
      last = now;
    }
  });
});
