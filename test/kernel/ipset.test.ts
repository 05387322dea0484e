// The helper against the real kernel, in a namespace of its own, checked with the standard ipset tool.
import assert from 'node:assert/strict';
import { addNamespace, inNs, removeNamespace } from '../../scripts/lib/netns';
import { EntryVisitor, KernelEntry, KernelError, loadNative, NetlinkHandle, PERMANENT_TIMEOUT } from '../../module/kernel/native';
import { packEntry } from '../../module/kernel/packed-entry';
import { IpsetManager, hashsizeFor } from '../../module/kernel/ipset';

const v4 = (a: string) => Uint8Array.from(a.split('.').map(Number));
const v6doc = (last: number) => { const b = new Uint8Array(16); b.set([0x20, 0x01, 0x0d, 0xb8]); b[15] = last; return b; };
const add4 = (a: string, timeout: number, prefix = 32): KernelEntry => ({ op: 'add', family: 4, bytes: v4(a), prefix, timeout });
import { sleep } from '../../scripts/lib/wait';

describe('kernel: ipset through the native helper', function () {
  this.timeout(20000);
  let ns: string;
  let nl: NetlinkHandle;
  let sets: IpsetManager;
  const spec = { name: 'sipa4_allow', family: 4 as const, hashsize: 1024, maxelem: 65536, timeout: true };
  const ipset = (...args: string[]) => inNs(ns, 'ipset', args);

  before(() => {
    ns = addNamespace(`sipa-t${process.pid}-ipset`);
    const lib = loadNative();
    nl = lib.open(`/run/netns/${ns}`);
    sets = new IpsetManager(nl, lib.strerror);
  });
  after(() => {
    nl?.close();
    removeNamespace(ns);
  });
  beforeEach(() => {
    for (const s of ['sipa4_allow', 'sipa6_allow', 'sipa4_allow_t', 'other']) sets.destroy(s);
  });

  it('creates a hash:net set with timeouts that `ipset list` shows as asked', () => {
    sets.ensure({ ...spec, hashsize: 4096, maxelem: 10000 });
    const out = ipset('list', 'sipa4_allow');
    assert.match(out, /Type: hash:net/);
    assert.match(out, /family inet hashsize 4096 maxelem 10000 timeout 0/);
    const info = sets.info('sipa4_allow')!;
    assert.equal(info.type, 'hash:net');
    assert.equal(info.hasTimeout, true);
    assert.equal(info.maxelem, 10000);
    assert.equal(sets.info('no_such_set'), null);
    sets.ensure({ ...spec, hashsize: 4096, maxelem: 10000 }); // the same again is fine
  });

  it('lists with their timeouts the entries the helper adds, and reads what `ipset add` put there', () => {
    sets.ensure(spec);
    assert.deepEqual(sets.apply('sipa4_allow', [add4('203.0.113.7', 300), add4('198.51.100.0', 600, 24)]).failed, []);
    const out = ipset('list', 'sipa4_allow');
    assert.match(out, /203\.0\.113\.7 timeout (29\d|300)\b/);
    assert.match(out, /198\.51\.100\.0\/24 timeout (59\d|600)\b/);
    ipset('add', 'sipa4_allow', '192.0.2.77', 'timeout', '120');
    const members = sets.list('sipa4_allow');
    const m = members.find(x => x.bytes.join('.') === '192.0.2.77');
    assert.ok(m, 'entry added by ipset(8) is listed');
    assert.equal(m!.prefix, 32);
    assert.ok(m!.timeout > 100 && m!.timeout <= 120, `timeout ${m!.timeout}`);
    assert.equal(members.length, 3);
    assert.equal(nl.setTest('sipa4_allow', 4, v4('192.0.2.77'), 32), true);
    assert.equal(nl.setTest('sipa4_allow', 4, v4('192.0.2.78'), 32), false);
  });

  it('lets the kernel drop an entry when its 2 s timeout ends, and a renewal extends it', async () => {
    sets.ensure(spec);
    sets.apply('sipa4_allow', [add4('203.0.113.20', 2), add4('203.0.113.21', 2)]);
    await sleep(1000);
    sets.apply('sipa4_allow', [add4('203.0.113.21', 5)]); // renewal: same entry, new timeout
    assert.equal(sets.list('sipa4_allow').length, 2, 'a renewal replaces, never duplicates');
    await sleep(1600);
    assert.equal(nl.setTest('sipa4_allow', 4, v4('203.0.113.20'), 32), false, 'expired by the kernel');
    assert.equal(nl.setTest('sipa4_allow', 4, v4('203.0.113.21'), 32), true, 'renewed entry still there');
    assert.doesNotMatch(ipset('list', 'sipa4_allow'), /203\.0\.113\.20/);
  });

  it('keeps a permanent entry (until revoked) in a set with timeouts: listed with timeout 0, compared as its own, put back when retimed, deleted', async () => {
    sets.ensure(spec);
    assert.deepEqual(sets.apply('sipa4_allow', [add4('203.0.113.8', PERMANENT_TIMEOUT), add4('203.0.113.9', 2)]).failed, []);
    assert.match(ipset('list', 'sipa4_allow'), /203\.0\.113\.8 timeout 0\b/);
    const wanted: EntryVisitor = put => put(packEntry({ family: 4, bytes: v4('203.0.113.8'), prefix: 32 }), PERMANENT_TIMEOUT);
    await sleep(2500);
    assert.equal(nl.setTest('sipa4_allow', 4, v4('203.0.113.9'), 32), false, 'the timed one ended');
    const m = sets.list('sipa4_allow');
    assert.deepEqual(m.map(x => [x.bytes.join('.'), x.timeout]), [['203.0.113.8', 0]], 'the permanent one stays, listed with timeout 0');
    let diff = nl.setDiff('sipa4_allow', 1, wanted, 2);
    assert.deepEqual([diff.missing, diff.retimed, diff.extra.length], [[], [], 0]);
    ipset('add', 'sipa4_allow', '203.0.113.8', 'timeout', '100', '-exist');
    diff = nl.setDiff('sipa4_allow', 1, wanted, 2);
    assert.deepEqual(diff.retimed, [0], 'given a timeout by someone else: it would end, so it is retimed');
    sets.apply('sipa4_allow', [add4('203.0.113.8', PERMANENT_TIMEOUT)]);
    assert.match(ipset('list', 'sipa4_allow'), /203\.0\.113\.8 timeout 0\b/, 'an add makes it permanent again');
    assert.deepEqual(nl.setDiff('sipa4_allow', 1, wanted, 2).retimed, []);
    sets.apply('sipa4_allow', [{ ...add4('203.0.113.8', 0), op: 'del' }]);
    assert.equal(sets.list('sipa4_allow').length, 0);
    assert.deepEqual(nl.setDiff('sipa4_allow', 1, wanted, 2).missing, [0]);
  });

  it('applies 999 of a batch of 1,000 with one bad entry, and names the bad one', () => {
    sets.ensure(spec);
    const entries: KernelEntry[] = [];
    for (let i = 0; i < 1000; i++) entries.push(add4(`198.51.${100 + (i >> 8)}.${i & 255}`, 600));
    entries[537] = { ...entries[537], prefix: 0 }; // the kernel refuses a /0 in hash:net
    const r = sets.apply('sipa4_allow', entries);
    assert.equal(r.applied, 999);
    assert.equal(r.failed.length, 1);
    assert.equal(r.failed[0].index, 537);
    assert.match(r.failed[0].reason, /prefix length/);
    assert.equal(sets.list('sipa4_allow').length, 999);
    assert.match(ipset('list', 'sipa4_allow', '-t'), /Number of entries: 999/);
  });

  it('reports an IPv6 entry sent to an IPv4 set alone, in the middle of a batch', () => {
    sets.ensure(spec);
    const r = sets.apply('sipa4_allow', [add4('203.0.113.1', 60),
      { op: 'add', family: 6, bytes: v6doc(1), prefix: 128, timeout: 60 }, add4('203.0.113.2', 60)]);
    assert.deepEqual(r.failed.map(f => f.index), [1]);
    assert.match(r.failed[0].reason, /refused|IPv4 address was expected/);
    assert.equal(sets.list('sipa4_allow').length, 2);
  });

  it('handles IPv6 sets: add with timeout, list, delete', () => {
    sets.ensure({ ...spec, name: 'sipa6_allow', family: 6 });
    const e = (last: number, prefix = 128): KernelEntry => ({ op: 'add', family: 6, bytes: v6doc(last), prefix, timeout: 90 });
    assert.deepEqual(sets.apply('sipa6_allow', [e(1), e(2), e(0, 64)]).failed, []);
    const out = ipset('list', 'sipa6_allow');
    assert.match(out, /family inet6/);
    assert.match(out, /2001:db8::1 timeout (8\d|90)\b/);
    assert.match(out, /2001:db8::\/64 timeout/);
    sets.apply('sipa6_allow', [{ ...e(1), op: 'del' }]);
    assert.doesNotMatch(ipset('list', 'sipa6_allow'), /2001:db8::1 /);
    assert.equal(sets.list('sipa6_allow').length, 2);
    // hash:net matches a host inside a stored prefix: ::1 is still covered by the /64
    assert.equal(nl.setTest('sipa6_allow', 6, v6doc(1), 128), true);
  });

  it('deletes present entries, ignores absent ones, and keeps adds and deletes in order', () => {
    sets.ensure(spec);
    sets.apply('sipa4_allow', [add4('203.0.113.5', 60), add4('203.0.113.6', 60)]);
    const r = sets.apply('sipa4_allow', [
      { ...add4('203.0.113.5', 0), op: 'del' },
      { ...add4('203.0.113.99', 0), op: 'del' },
      add4('203.0.113.7', 60),
    ]);
    assert.deepEqual(r.failed, []);
    assert.deepEqual(sets.list('sipa4_allow').map(m => m.bytes.join('.')).sort(), ['203.0.113.6', '203.0.113.7']);
  });

  it('replaces the whole contents through a temporary set and a swap', () => {
    sets.ensure(spec);
    sets.apply('sipa4_allow', [add4('203.0.113.5', 60)]);
    const entries = Array.from({ length: 5000 }, (_, i) => add4(`198.51.${100 + (i >> 8)}.${i & 255}`, 300));
    const r = sets.replace({ ...spec, hashsize: hashsizeFor(65536) }, entries);
    assert.equal(r.applied, 5000);
    assert.equal(sets.list('sipa4_allow').length, 5000);
    assert.equal(nl.setTest('sipa4_allow', 4, v4('203.0.113.5'), 32), false);
    assert.doesNotMatch(ipset('list', '-n'), /_t\b/, 'no temporary set is left');
  });

  it('refuses bad set names and an unknown set with a sentence naming it', () => {
    assert.throws(() => sets.ensure({ ...spec, name: 'x'.repeat(40) }), /bad set name/);
    assert.throws(() => nl.setFlush('no_such_set'), (e: Error) =>
      /flush set no_such_set: no such set/.test(e.message) && e instanceof KernelError && e.is('ENOENT'));
  });

  it('loads 65,536 entries into one set in a few large batches', () => {
    sets.ensure({ ...spec, hashsize: hashsizeFor(65536) });
    const entries = Array.from({ length: 65536 }, (_, i) =>
      add4(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 3600));
    const r = sets.apply('sipa4_allow', entries);
    assert.equal(r.applied, 65536);
    assert.match(ipset('list', 'sipa4_allow', '-t'), /Number of entries: 65536/);
  });
});
