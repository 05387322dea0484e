// The daemon's resident size, idle, is mostly code it no longer runs: the pages of Node's binary (and of the
// C libraries) that start-up touched — the parser, the compilers, the store restore — stay mapped, ~50 MB of
// them, although an idle daemon runs ~10 MB. After start (and then hourly) those read-only file pages are
// unmapped with madvise(MADV_DONTNEED): they are the file's own bytes, kept by the page cache, and fault back in
// when that code runs again. Only private, read-only mappings of regular files with no page of their own
// (no copy-on-write page, e.g. relocated data) qualify, so nothing but a re-read from the file can follow.
import fs from 'node:fs';

export interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  rssKb: number;
  anonymousKb: number;
}

/** /proc/self/smaps as mappings (address range, permissions, path, resident and anonymous kB). */
export function readMappings(smaps: string): Mapping[] {
  const out: Mapping[] = [];
  let cur: Mapping | null = null;
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      cur = { start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3], path: head[4], rssKb: 0, anonymousKb: 0 };
      out.push(cur);
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (field && cur) {
      if (field[1] === 'Rss') cur.rssKb = Number(field[2]);
      else cur.anonymousKb = Number(field[2]);
    }
  }
  return out;
}

/** A mapping whose resident pages can only be clean copies of its file. */
export function droppable(m: Mapping): boolean {
  return m.perms[0] === 'r' && m.perms[1] === '-' && m.perms[3] === 'p' && m.anonymousKb === 0 && m.rssKb > 0
    && m.path.startsWith('/') && !m.path.startsWith('/dev/') && !m.path.startsWith('/memfd:') && !m.path.endsWith(' (deleted)');
}

const MADV_DONTNEED = 4;
type Madvise = (addr: bigint, length: number, advice: number) => number;
let madvise: Madvise | null = null;

/** Unmaps the droppable mappings of this process; what was resident in them, in kB. */
export function dropCleanFilePages(): { mappings: number; kb: number } {
  if (!madvise) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const koffi = require('koffi') as typeof import('koffi');
    madvise = koffi.load('libc.so.6').func('int madvise(uintptr_t addr, size_t length, int advice)') as unknown as Madvise;
  }
  let mappings = 0;
  let kb = 0;
  for (const m of readMappings(fs.readFileSync('/proc/self/smaps', 'utf8')).filter(droppable)) {
    if (madvise!(m.start, Number(m.end - m.start), MADV_DONTNEED) === 0) {
      mappings++;
      kb += m.rssKb;
    }
  }
  return { mappings, kb };
}
