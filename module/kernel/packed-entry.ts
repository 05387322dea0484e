// A kernel allow entry packed into one short string: the family, the prefix, then the address's 4 or 16
// bytes, one character each. The engine keeps one per active device's address for as long as the device is
// active: as {family, bytes, prefix, text} that was an object, a Uint8Array with its ArrayBuffer and a text,
// ~300 bytes of heap; packed it is one string of 24 or 32 bytes that is also its key (two devices holding the
// same entry meet under it). What the kernel calls take is unpacked only when a call is made.
import { maskBytes } from '../domain';
import type { Family } from './native';

export type PackedEntry = string & { readonly packedEntry: unique symbol };

interface Address {
  family: Family;
  bytes: Uint8Array;
  prefix: number;
}

const HEAD = 2;

/** The entry as the kernel holds it: host bits past the prefix cleared, as the kernel clears them. */
export function packEntry(a: Address): PackedEntry {
  const length = a.family === 4 ? 4 : 16;
  if (a.bytes.length !== length) throw new RangeError(`an IPv${a.family} entry has ${length} bytes, not ${a.bytes.length}`);
  // One call, so that the string is flat (built by +=, it would be a chain of its pieces on the heap, and a Map
  // would copy it before hashing).
  return String.fromCharCode(a.family, a.prefix, ...maskBytes(a.bytes, a.prefix)) as PackedEntry;
}

export function entryFamily(p: PackedEntry): Family {
  return p.charCodeAt(0) === 6 ? 6 : 4;
}

export function entryPrefix(p: PackedEntry): number {
  return p.charCodeAt(1);
}

export function unpackEntry(p: PackedEntry): Address {
  const bytes = new Uint8Array(p.length - HEAD);
  writeEntryBytes(p, bytes, 0);
  return { family: entryFamily(p), bytes, prefix: entryPrefix(p) };
}

/** Copies the address's bytes into `out` at `offset` (no object made: the reconciler does this for every entry). */
export function writeEntryBytes(p: PackedEntry, out: Uint8Array, offset: number): void {
  for (let i = HEAD; i < p.length; i++) out[offset + i - HEAD] = p.charCodeAt(i);
}

/**
 * A test of whether an entry's network holds `a` (an address, or a network of the same family): it does when `a`
 * cut to the entry's prefix is the entry. Made once to ask many entries: `a` is cut once per prefix met.
 */
export function heldIn(a: Address): (entry: PackedEntry) => boolean {
  const cut = new Map<number, PackedEntry>();
  return entry => {
    const prefix = entryPrefix(entry);
    if (entryFamily(entry) !== a.family || prefix > a.prefix) return false;
    let mine = cut.get(prefix);
    if (mine === undefined) cut.set(prefix, (mine = packEntry({ family: a.family, bytes: a.bytes, prefix })));
    return mine === entry;
  };
}
