// The only file that imports koffi. Loads libsipa for this CPU from an explicit path (never at import time),
// declares every C signature in one place, and turns result codes into KernelError.
import path from 'node:path';
import fs from 'node:fs';
import { entryFamily, entryPrefix, writeEntryBytes, type PackedEntry } from './packed-entry';
import { ABI_VERSION, CODES, CodeName, DIFF, ENTRY, MEMBER, NET, OP, SET_INFO, SET_TIMEOUT, TIMEOUT_PERMANENT } from './native-abi';

export type Family = 4 | 6;

export interface KernelEntry {
  op: 'add' | 'del';
  family: Family;
  /** Network-order bytes: 4 or 16. */
  bytes: Uint8Array;
  prefix: number;
  /** Seconds; PERMANENT_TIMEOUT: never ends by itself; 0 = no timeout attribute (sets without timeouts). */
  timeout: number;
}

/**
 * The timeout of an entry that stays until it is deleted (a registration until revoked): the helper adds it to a
 * set with timeouts with timeout 0, which the kernel keeps for ever and lists with timeout 0 (ipset(8)); wanted
 * so in a setDiff, a member listed with any other timeout is retimed. SIPA_TIMEOUT_PERMANENT in sipa.h.
 */
export const PERMANENT_TIMEOUT = TIMEOUT_PERMANENT;

export interface SetMember {
  family: Family;
  bytes: Uint8Array;
  prefix: number;
  /** Remaining seconds as the kernel reports them (0 in a set without timeouts, and for a permanent entry). */
  timeout: number;
}

export interface SetInfo {
  type: string;
  family: Family;
  revision: number;
  hasTimeout: boolean;
  hashsize: number;
  maxelem: number;
  references: number;
  elements: number;
  memsize: number;
}

/** A set compared with the entries wanted in it (NetlinkHandle.setDiff). */
export interface SetDiff {
  /** How many members the set has. */
  members: number;
  /** Wanted entries not in the set, by their place in the visiting order. */
  missing: number[];
  /** Wanted entries in the set with a timeout that is not theirs (or none), by their place in the visiting order. */
  retimed: number[];
  /** Members nobody wants. */
  extra: SetMember[];
}

/** Hands every wanted entry to `put`, in an order that the indices of a SetDiff refer to. */
export type EntryVisitor = (put: (entry: PackedEntry, timeout: number) => void) => void;

/**
 * A failure the kernel (or the helper) reported. `code` is a positive errno or ipset code (>= 4096), named in
 * the helper's code table (native-abi.ts, CODES): ask `is('ENOENT')` rather than compare numbers.
 */
export class KernelError extends Error {
  override readonly name = 'KernelError';
  constructor(
    message: string,
    readonly code: number,
    readonly reason: string,
    readonly entry?: KernelEntry,
  ) {
    super(message);
  }
  is(name: CodeName): boolean {
    return this.code === CODES[name];
  }
}

/** What the layers above use; a stub of this interface is enough to test them without a kernel. */
export interface NetlinkHandle {
  setCreate(name: string, family: Family, opts: { hashsize: number; maxelem: number; timeout: boolean }): void;
  setDestroy(name: string): void;
  setFlush(name: string): void;
  setSwap(a: string, b: string): void;
  /** null when no set of that name exists. */
  setInfo(name: string): SetInfo | null;
  setTest(name: string, family: Family, bytes: Uint8Array, prefix: number): boolean;
  setList(name: string): SetMember[];
  /**
   * Lists the set and compares it with the wanted entries in the helper (no object per member): which are
   * missing, which carry a timeout more than `slackSeconds` from theirs (or none; a wanted timeout of 0, ending
   * now, is never reported), which members nobody wants. `count`: how many entries `each` visits, at most.
   */
  setDiff(name: string, count: number, each: EntryVisitor, slackSeconds: number): SetDiff;
  /** Per-entry result codes: 0, or a positive errno/ipset code. */
  batchApply(name: string, entries: readonly KernelEntry[]): Int32Array;
  /**
   * Deletes, in one dump of the table, the conntrack flows of the family whose original source is in one of the
   * networks (a /32 or /128 is one address) and whose protocol is l4proto (default 0: any); returns how many.
   */
  cutFlows(family: Family, nets: ReadonlyArray<{ bytes: Uint8Array; prefix: number }>, l4proto?: number): number;
  /**
   * A digest (hex) of the legacy iptables filter table of the family, counters left out: it changes when a rule,
   * a chain or a jump changes. One pair of getsockopt calls; no program is run.
   */
  filterDigest(family: Family): string;
  close(): void;
}

export interface NativeLibrary {
  readonly path: string;
  open(netnsPath?: string | null): NetlinkHandle;
  strerror(code: number): string;
  /** Runs fn with the calling thread inside the namespace (sockets made there stay there). */
  insideNetns<T>(netnsPath: string, fn: () => T): T;
}

const ARCH_DIRS: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64', arm: 'armhf' };

/** Where the helper for this CPU is: $SIPA_NATIVE_LIB, else native/build/<arch>/libsipa.so of this tree. */
export function defaultLibraryPath(): string {
  if (process.env.SIPA_NATIVE_LIB) return process.env.SIPA_NATIVE_LIB;
  const arch = ARCH_DIRS[process.arch];
  if (!arch) throw new Error(`no native helper for CPU ${process.arch} (x64, arm64 and arm are built)`);
  // dist/module/kernel → repository (or package app) root
  const root = path.resolve(__dirname, '..', '..', '..');
  return path.join(root, 'native', 'build', arch, 'libsipa.so');
}

const ERRLEN = 512;

/** A sipa_handle pointer as koffi hands it out and takes it back; nothing in it is read here. */
type SipaHandle = { readonly __brand: 'sipa_handle' };
/** A value the helper writes back (koffi fills element 0). */
type Out<T> = [T];

/** libsipa as koffi binds it: each function of native/include/sipa.h, typed once. */
interface Libsipa {
  abi(): number;
  open(netns: string | null, out: Out<SipaHandle | null>, err: Buffer, errlen: number): number;
  close(h: SipaHandle): void;
  lastError(h: SipaHandle): string;
  strerror(code: number): string;
  create(h: SipaHandle, name: string, family: number, hashsize: number, maxelem: number, flags: number): number;
  destroy(h: SipaHandle, name: string): number;
  flush(h: SipaHandle, name: string): number;
  swap(h: SipaHandle, a: string, b: string): number;
  info(h: SipaHandle, name: string, out: Buffer): number;
  test(h: SipaHandle, name: string, family: number, addr: Buffer, prefix: number): number;
  list(h: SipaHandle, name: string, out: Buffer, cap: number, count: Out<number>): number;
  diff(h: SipaHandle, name: string, wanted: Uint8Array, n: number, slack: number, state: Uint8Array, extra: Buffer,
    extraCap: number, extraCount: Out<number>, members: Out<number>): number;
  batch(h: SipaHandle, name: string, entries: Uint8Array, n: number, results: Int32Array): number;
  ctCut(h: SipaHandle, family: number, nets: Buffer, n: number, l4proto: number, cut: Out<number>): number;
  fwDigest(h: SipaHandle, family: number, digest: Buffer, rules: Out<number>): number;
  nsEnter(path: string, err: Buffer, errlen: number): number;
  nsLeave(err: Buffer, errlen: number): number;
}

let loaded: NativeLibrary | null = null;
let handleTypeDeclared = false;

export function loadNative(libPath: string = defaultLibraryPath()): NativeLibrary {
  if (loaded && loaded.path === libPath) return loaded;
  if (!fs.existsSync(libPath)) {
    throw new Error(`native helper not found at ${libPath} (build it with: npm run build:native)`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const koffi = require('koffi') as typeof import('koffi');
  const lib = koffi.load(libPath);
  if (!handleTypeDeclared) koffi.opaque('sipa_handle'); // one declaration per process, whatever the library
  handleTypeDeclared = true;
  const c: Libsipa = {
    abi: lib.func('uint32_t sipa_abi_version(void)'),
    open: lib.func('int sipa_open(const char *netns, _Out_ sipa_handle **out, _Out_ uint8_t *err, size_t errlen)'),
    close: lib.func('void sipa_close(sipa_handle *h)'),
    lastError: lib.func('const char *sipa_last_error(sipa_handle *h)'),
    strerror: lib.func('const char *sipa_strerror(int code)'),
    create: lib.func('int sipa_set_create(sipa_handle *h, const char *name, int family, uint32_t hashsize, uint32_t maxelem, uint32_t flags)'),
    destroy: lib.func('int sipa_set_destroy(sipa_handle *h, const char *name)'),
    flush: lib.func('int sipa_set_flush(sipa_handle *h, const char *name)'),
    swap: lib.func('int sipa_set_swap(sipa_handle *h, const char *a, const char *b)'),
    info: lib.func('int sipa_set_info_get(sipa_handle *h, const char *name, _Out_ uint8_t *out)'),
    test: lib.func('int sipa_set_test(sipa_handle *h, const char *name, int family, const uint8_t *addr, uint8_t prefix)'),
    list: lib.func('int sipa_set_list(sipa_handle *h, const char *name, _Out_ uint8_t *out, uint32_t cap, _Out_ uint32_t *count)'),
    diff: lib.func('int sipa_set_diff(sipa_handle *h, const char *name, const uint8_t *wanted, uint32_t n, uint32_t slack, _Out_ uint8_t *state, _Out_ uint8_t *extra, uint32_t extraCap, _Out_ uint32_t *extraCount, _Out_ uint32_t *members)'),
    batch: lib.func('int sipa_batch_apply(sipa_handle *h, const char *name, const uint8_t *entries, uint32_t n, _Out_ int32_t *results)'),
    ctCut: lib.func('int sipa_ct_delete_nets(sipa_handle *h, int family, const uint8_t *nets, uint32_t n, uint8_t l4proto, _Out_ uint32_t *cut)'),
    fwDigest: lib.func('int sipa_fw_digest(sipa_handle *h, int family, _Out_ uint8_t *digest, _Out_ uint32_t *rules)'),
    nsEnter: lib.func('int sipa_netns_enter(const char *path, _Out_ uint8_t *err, size_t errlen)'),
    nsLeave: lib.func('int sipa_netns_leave(_Out_ uint8_t *err, size_t errlen)'),
  };
  const abi = c.abi();
  if (abi !== ABI_VERSION) throw new Error(`native helper ${libPath} has ABI ${abi}, this module needs ${ABI_VERSION}`);

  const strerror = (code: number): string => c.strerror(code);
  const text = (buf: Buffer): string => buf.subarray(0, Math.max(0, buf.indexOf(0))).toString('utf8');

  function open(netnsPath?: string | null): NetlinkHandle {
    const out: Out<SipaHandle | null> = [null];
    const err = Buffer.alloc(ERRLEN);
    const r = c.open(netnsPath ?? null, out, err, ERRLEN);
    if (r < 0 || !out[0]) throw new KernelError(text(err), -r, strerror(r));
    return new Handle(out[0]);
  }

  class Handle implements NetlinkHandle {
    private h: SipaHandle | null;
    /** How many members each set had at its last listing. */
    private readonly listed = new Map<string, number>();
    /** The wanted entries of setDiff, packed; kept between calls (a full check every few seconds). */
    private wanted = new Uint8Array(0);
    constructor(h: SipaHandle) {
      this.h = h;
    }
    private get ptr(): SipaHandle {
      if (this.h === null) throw new Error('netlink handle used after close');
      return this.h;
    }
    private check(r: number, entry?: KernelEntry): number {
      if (r >= 0) return r;
      throw new KernelError(c.lastError(this.ptr), -r, strerror(r), entry);
    }
    setCreate(name: string, family: Family, o: { hashsize: number; maxelem: number; timeout: boolean }): void {
      this.check(c.create(this.ptr, name, family, o.hashsize, o.maxelem, o.timeout ? SET_TIMEOUT : 0));
    }
    setDestroy(name: string): void { this.check(c.destroy(this.ptr, name)); }
    setFlush(name: string): void { this.check(c.flush(this.ptr, name)); }
    setSwap(a: string, b: string): void { this.check(c.swap(this.ptr, a, b)); }
    setInfo(name: string): SetInfo | null {
      const buf = Buffer.alloc(SET_INFO.size);
      const r = c.info(this.ptr, name, buf);
      if (r === -CODES.ENOENT) return null;
      this.check(r);
      return {
        type: text(buf.subarray(SET_INFO.type, SET_INFO.type + SET_INFO.typeLength)),
        family: buf[SET_INFO.family] === 6 ? 6 : 4,
        revision: buf[SET_INFO.revision],
        hasTimeout: buf[SET_INFO.hasTimeout] === 1,
        hashsize: buf.readUInt32LE(SET_INFO.hashsize),
        maxelem: buf.readUInt32LE(SET_INFO.maxelem),
        references: buf.readUInt32LE(SET_INFO.references),
        elements: buf.readUInt32LE(SET_INFO.elements),
        memsize: buf.readUInt32LE(SET_INFO.memsize),
      };
    }
    setTest(name: string, family: Family, bytes: Uint8Array, prefix: number): boolean {
      return this.check(c.test(this.ptr, name, family, addrBuffer(family, bytes), prefix)) === 1;
    }
    setList(name: string): SetMember[] {
      // Room for as many as last time: a guess too low costs a second dump of the whole set.
      let cap = (this.listed.get(name) ?? 0) + 1024;
      for (;;) {
        const buf = Buffer.alloc(cap * MEMBER.size);
        const count: Out<number> = [0];
        const r = c.list(this.ptr, name, buf, cap, count);
        if (r === -CODES.ENOSPC && count[0] > cap) {
          cap = count[0] + 1024; // the set grew or we guessed low: once more with room for all
          continue;
        }
        this.check(r);
        this.listed.set(name, count[0]);
        return membersOf(buf, count[0]);
      }
    }
    setDiff(name: string, count: number, each: EntryVisitor, slackSeconds: number): SetDiff {
      if (this.wanted.length < count * ENTRY.size) this.wanted = new Uint8Array(count * ENTRY.size);
      let buf = this.wanted;
      let words = new Uint32Array(buf.buffer);
      let n = 0;
      // Laid out as struct sipa_entry in host byte order, as batchApply lays them out.
      each((entry, timeout) => {
        if ((n + 1) * ENTRY.size > buf.length) {
          const grown = new Uint8Array(buf.length * 2 + ENTRY.size);
          grown.set(buf);
          buf = this.wanted = grown;
          words = new Uint32Array(buf.buffer);
        }
        const o = n++ * ENTRY.size;
        buf.fill(0, o, o + ENTRY.size);
        buf[o + ENTRY.op] = OP.add;
        buf[o + ENTRY.family] = entryFamily(entry);
        buf[o + ENTRY.prefix] = entryPrefix(entry);
        words[(o + ENTRY.timeout) >> 2] = timeout >>> 0;
        writeEntryBytes(entry, buf, o + ENTRY.addr);
      });
      const state = new Uint8Array(Math.max(1, n));
      for (let extraCap = 256; ; ) {
        const extra = Buffer.alloc(extraCap * MEMBER.size);
        const extraCount: Out<number> = [0];
        const members: Out<number> = [0];
        const r = c.diff(this.ptr, name, buf, n, slackSeconds, state, extra, extraCap, extraCount, members);
        if (r === -CODES.ENOSPC && extraCount[0] > extraCap) {
          extraCap = extraCount[0];
          continue;
        }
        this.check(r);
        const missing: number[] = [];
        const retimed: number[] = [];
        for (let i = 0; i < n; i++) {
          if (state[i] === DIFF.missing) missing.push(i);
          else if (state[i] === DIFF.retimed) retimed.push(i);
        }
        return { members: members[0], missing, retimed, extra: membersOf(extra, extraCount[0]) };
      }
    }
    batchApply(name: string, entries: readonly KernelEntry[]): Int32Array {
      const results = new Int32Array(entries.length);
      if (entries.length === 0) return results;
      // Laid out as struct sipa_entry in host byte order; typed-array stores keep this loop cheap (a 65,536
      // entry load spends ~3 ms here, against ~15 ms with Buffer helpers per field).
      const buf = new Uint8Array(entries.length * ENTRY.size);
      const words = new Uint32Array(buf.buffer);
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        const o = i * ENTRY.size;
        buf[o + ENTRY.op] = OP[e.op];
        buf[o + ENTRY.family] = e.family;
        buf[o + ENTRY.prefix] = e.prefix;
        words[(o + ENTRY.timeout) >> 2] = e.timeout >>> 0;
        const len = e.family === 4 ? 4 : 16;
        if (e.bytes.length !== len) throw new Error(`entry ${i}: an IPv${e.family} address has ${len} bytes, got ${e.bytes.length}`);
        for (let j = 0; j < len; j++) buf[o + ENTRY.addr + j] = e.bytes[j];
      }
      const r = c.batch(this.ptr, name, buf, entries.length, results);
      this.check(r);
      for (let i = 0; i < results.length; i++) results[i] = -results[i];
      return results;
    }
    cutFlows(family: Family, nets: ReadonlyArray<{ bytes: Uint8Array; prefix: number }>, l4proto = 0): number {
      if (nets.length === 0) return 0;
      const buf = Buffer.alloc(nets.length * NET.size);
      nets.forEach((n, i) => {
        const o = i * NET.size;
        buf[o + NET.family] = family;
        buf[o + NET.prefix] = n.prefix;
        buf.set(addrBuffer(family, n.bytes), o + NET.addr);
      });
      const cut: Out<number> = [0];
      this.check(c.ctCut(this.ptr, family, buf, nets.length, l4proto, cut));
      return cut[0];
    }
    filterDigest(family: Family): string {
      const digest = Buffer.alloc(8);
      const rules: Out<number> = [0];
      this.check(c.fwDigest(this.ptr, family, digest, rules));
      return digest.toString('hex');
    }
    close(): void {
      if (this.h !== null) c.close(this.h);
      this.h = null;
    }
  }

  function insideNetns<T>(netnsPath: string, fn: () => T): T {
    const err = Buffer.alloc(ERRLEN);
    const r = c.nsEnter(netnsPath, err, ERRLEN);
    if (r < 0) throw new KernelError(text(err), -r, strerror(r));
    // Leaving must not fail silently: a thread left in the namespace would act on the wrong firewall. When
    // both fail, that is the error that counts.
    const leave = (): void => {
      const l = c.nsLeave(err, ERRLEN);
      if (l < 0) throw new KernelError(text(err), -l, strerror(l));
    };
    let result: T;
    try {
      result = fn();
    } catch (e) {
      leave();
      throw e;
    }
    leave();
    return result;
  }

  loaded = { path: libPath, open, strerror, insideNetns };
  return loaded;
}

/** Members laid out as struct sipa_member; their bytes are views into buf (made for one call alone). */
function membersOf(buf: Buffer, count: number): SetMember[] {
  const members: SetMember[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * MEMBER.size;
    const family: Family = buf[o + MEMBER.family] === 6 ? 6 : 4;
    members.push({
      family,
      prefix: buf[o + MEMBER.prefix],
      timeout: buf.readUInt32LE(o + MEMBER.timeout),
      bytes: new Uint8Array(buf.buffer, buf.byteOffset + o + MEMBER.addr, family === 4 ? 4 : 16),
    });
  }
  return members;
}

function addrBuffer(family: Family, bytes: Uint8Array): Buffer {
  const want = family === 4 ? 4 : 16;
  if (bytes.length !== want) throw new Error(`an IPv${family} address has ${want} bytes, got ${bytes.length}`);
  const b = Buffer.alloc(16);
  b.set(bytes);
  return b;
}
