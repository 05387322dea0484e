// Address parsing for allow-list entries and LAN networks. The parser is our own and deliberately narrow:
// generic parsers (inet_aton, node:net, netmask, ip) disagree about octal, hex and short IPv4 forms, and every
// such disagreement has been a bypass (CVE-2021-28918, CVE-2024-29415). Only one spelling per address is
// accepted; everything else is refused with the reason, never "repaired".

export type AddressFamily = 4 | 6;

/** A parsed address or network. For a host, prefix is 32 or 128. */
export interface IpNetwork {
  family: AddressFamily;
  /** Canonical text of the network address, without prefix: "203.0.113.0", "2001:db8::1". */
  address: string;
  prefix: number;
  /** Network bytes: 4 for IPv4, 16 for IPv6. */
  bytes: Uint8Array;
  /** Canonical text as stored and shown: "203.0.113.7" for a host, "203.0.113.0/28" for a network. */
  text: string;
}

export interface DeviceAddressOptions {
  allowPrefixes: boolean;
  /** Smallest IPv4 prefix length accepted (widest network); default 24. */
  maxPrefixWidthV4?: number;
  /** Smallest IPv6 prefix length accepted (widest network); default 48. */
  maxPrefixWidthV6?: number;
}

export const DEFAULT_MAX_PREFIX_WIDTH_V4 = 24;
export const DEFAULT_MAX_PREFIX_WIDTH_V6 = 48;

export class AddressError extends Error {
  readonly code = 'bad_address';
  constructor(
    readonly input: string,
    readonly reason: string,
    readonly what: 'address' | 'network' = 'address',
  ) {
    super(`${quoteInput(input)} is not a valid ${what}: ${reason}`);
    this.name = 'AddressError';
  }
}

// Longer than any spelling we accept ("ffff:…:255.255.255.255/128" is 49); keeps messages and work bounded.
const MAX_INPUT_LENGTH = 64;

function quoteInput(input: string): string {
  const shown = input.length > MAX_INPUT_LENGTH ? `${input.slice(0, MAX_INPUT_LENGTH)}…` : input;
  return JSON.stringify(shown);
}

const FULL_PREFIX: Record<AddressFamily, number> = { 4: 32, 6: 128 };

/** An address or network that the rules single out, and why. */
interface SpecialRange {
  family: AddressFamily;
  bytes: Uint8Array;
  prefix: number;
  reason: string;
}

function range(family: AddressFamily, bytes: number[], prefix: number, reason: string): SpecialRange {
  const full = new Uint8Array(family === 4 ? 4 : 16);
  full.set(bytes);
  return { family, bytes: full, prefix, reason };
}

const V4_UNSPECIFIED = range(4, [0, 0, 0, 0], 32, '0.0.0.0 is the unspecified address');
const V4_THIS_NETWORK = range(4, [0], 8, '0.0.0.0/8 ("this network") is never a source address');
const V4_LOOPBACK = range(4, [127], 8, 'loopback addresses (127.0.0.0/8) are refused');
const V4_LINK_LOCAL = range(4, [169, 254], 16, 'link-local addresses (169.254.0.0/16) are refused');
const V4_MULTICAST = range(4, [224], 4, 'multicast addresses (224.0.0.0/4) are refused');
const V4_BROADCAST = range(4, [255, 255, 255, 255], 32, '255.255.255.255 is the broadcast address');
const V4_RESERVED = range(4, [240], 4, 'reserved addresses (240.0.0.0/4) are never a source address');

const V6_UNSPECIFIED = range(6, [], 128, ':: is the unspecified address');
const V6_LOOPBACK = range(6, [...new Array<number>(15).fill(0), 1], 128, '::1 is the loopback address');
const V6_MULTICAST = range(6, [0xff], 8, 'multicast addresses (ff00::/8) are refused');
const V6_LINK_LOCAL = range(6, [0xfe, 0x80], 10, 'link-local addresses (fe80::/10) are refused');
// ::a.b.c.d (RFC 4291 §2.5.5.1) is deprecated; accepting it would give 127.0.0.1 a second spelling.
const V6_IPV4_COMPATIBLE = range(6, [], 96, 'IPv4-compatible IPv6 addresses (::/96) are deprecated and refused');

// Order matters: the first range that overlaps gives the reason, so the specific ones come first.
const REFUSED_FOR_DEVICES: SpecialRange[] = [
  V4_UNSPECIFIED, V4_THIS_NETWORK, V4_LOOPBACK, V4_LINK_LOCAL, V4_MULTICAST, V4_BROADCAST, V4_RESERVED,
  V6_UNSPECIFIED, V6_LOOPBACK, V6_IPV4_COMPATIBLE, V6_MULTICAST, V6_LINK_LOCAL,
];

const LOOPBACK_NEEDS_NO_ENTRY = 'loopback is always allowed and needs no LAN entry';
const REFUSED_FOR_NETWORKS: SpecialRange[] = [
  V4_UNSPECIFIED, V4_BROADCAST, { ...V4_LOOPBACK, reason: LOOPBACK_NEEDS_NO_ENTRY }, V4_MULTICAST,
  V6_UNSPECIFIED, { ...V6_LOOPBACK, reason: LOOPBACK_NEEDS_NO_ENTRY }, V6_IPV4_COMPATIBLE, V6_MULTICAST,
];

/**
 * An address (or, when allowed, a network) to register in the allow list. Refuses every spelling but the
 * canonical one's grammar, and every address that cannot be an internet source.
 */
export function parseDeviceAddress(text: string, opts: DeviceAddressOptions): IpNetwork {
  const widest: Record<AddressFamily, number> = {
    4: checkWidthOption(opts.maxPrefixWidthV4, DEFAULT_MAX_PREFIX_WIDTH_V4, 32, 'maxPrefixWidthV4'),
    6: checkWidthOption(opts.maxPrefixWidthV6, DEFAULT_MAX_PREFIX_WIDTH_V6, 128, 'maxPrefixWidthV6'),
  };
  const parsed = parseSyntax(text, 'address');
  const fail = (reason: string): never => { throw new AddressError(text, reason, 'address'); };
  const full = FULL_PREFIX[parsed.family];

  if (parsed.prefix === 0) fail('the whole internet (/0) can never be registered');
  if (parsed.prefix !== full && !opts.allowPrefixes) {
    fail(`prefixes are not allowed here; register a single address (or /${full})`);
  }
  if (parsed.prefix < widest[parsed.family]) {
    fail(`prefix /${parsed.prefix} is wider than the allowed /${widest[parsed.family]}`);
  }
  checkHostBits(text, parsed, 'address');
  const refused = firstOverlap(parsed, REFUSED_FOR_DEVICES);
  if (refused) fail(refused.reason);
  return build(parsed.family, parsed.bytes, parsed.prefix);
}

/**
 * A LAN network from configuration: CIDR or a bare address (a host). Any unicast kind is fine, private and
 * link-local included; only malformed text, the whole internet and non-unicast ranges are refused.
 */
export function parseNetwork(text: string): IpNetwork {
  const parsed = parseSyntax(text, 'network');
  if (parsed.prefix === 0) {
    throw new AddressError(text, 'a /0 network would exempt the whole internet', 'network');
  }
  checkHostBits(text, parsed, 'network');
  const refused = firstOverlap(parsed, REFUSED_FOR_NETWORKS);
  if (refused) throw new AddressError(text, refused.reason, 'network');
  return build(parsed.family, parsed.bytes, parsed.prefix);
}

/** True when addr (a host or a network) lies wholly inside net. Families never mix. */
export function networkContains(
  net: Pick<IpNetwork, 'family' | 'bytes' | 'prefix'>,
  addr: Pick<IpNetwork, 'family' | 'bytes' | 'prefix'>,
): boolean {
  if (net.family !== addr.family || addr.prefix < net.prefix) return false;
  return samePrefixBits(net.bytes, addr.bytes, net.prefix);
}

/**
 * Canonical text for raw bytes, e.g. from a kernel reply: dotted quad, or RFC 5952 IPv6. The prefix is
 * shown unless it is the full width. Bytes are shown as given, not masked.
 */
export function formatAddress(family: AddressFamily, bytes: Uint8Array, prefix: number = FULL_PREFIX[family]): string {
  if (family !== 4 && family !== 6) throw new RangeError(`address family must be 4 or 6, got ${String(family)}`);
  const length = family === 4 ? 4 : 16;
  if (bytes.length !== length) {
    throw new RangeError(`an IPv${family} address has ${length} bytes, got ${bytes.length}`);
  }
  const full = FULL_PREFIX[family];
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > full) {
    throw new RangeError(`an IPv${family} prefix is 0..${full}, got ${String(prefix)}`);
  }
  const address = family === 4 ? formatV4(bytes) : formatV6(bytes);
  return prefix === full ? address : `${address}/${prefix}`;
}

// ---------------------------------------------------------------------------------------------------------
// Syntax

interface ParsedSyntax {
  family: AddressFamily;
  bytes: Uint8Array;
  prefix: number;
}

class SyntaxRefusal extends Error {}

function parseSyntax(text: string, what: 'address' | 'network'): ParsedSyntax {
  const input = typeof text === 'string' ? text : String(text);
  try {
    if (typeof text !== 'string') throw new SyntaxRefusal('it is not text');
    return parseSyntaxOrRefuse(text);
  } catch (err) {
    if (err instanceof SyntaxRefusal) throw new AddressError(input, err.message, what);
    throw err;
  }
}

function parseSyntaxOrRefuse(text: string): ParsedSyntax {
  if (text.length === 0) throw new SyntaxRefusal('it is empty');
  if (text.length > MAX_INPUT_LENGTH) throw new SyntaxRefusal(`it is longer than any address (${MAX_INPUT_LENGTH} characters)`);
  if (/\s/.test(text)) throw new SyntaxRefusal('whitespace is refused');
  if (text.includes('%')) throw new SyntaxRefusal('zone indices (like %eth0) are refused');

  const slash = text.indexOf('/');
  if (slash !== text.lastIndexOf('/')) throw new SyntaxRefusal("more than one '/'");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? null : text.slice(slash + 1);

  let family: AddressFamily;
  let bytes: Uint8Array;
  if (addressText.includes(':')) {
    family = 6;
    bytes = parseV6Text(addressText);
  } else {
    family = 4;
    bytes = parseV4Text(addressText);
  }
  let prefix = prefixText === null ? FULL_PREFIX[family] : parsePrefixText(prefixText, FULL_PREFIX[family]);

  // One address, one spelling: ::ffff:a.b.c.d is the IPv4 host a.b.c.d and must meet the IPv4 rules.
  if (family === 6 && isV4Mapped(bytes)) {
    if (prefix < 96) throw new SyntaxRefusal('an IPv4-mapped network needs a prefix of at least /96');
    family = 4;
    bytes = bytes.slice(12);
    prefix -= 96;
  }
  return { family, bytes, prefix };
}

function parsePrefixText(text: string, full: number): number {
  if (text === '') throw new SyntaxRefusal("nothing after '/'");
  if (!/^[0-9]+$/.test(text)) throw new SyntaxRefusal(`prefix "/${text}" is not a decimal number`);
  if (text.length > 1 && text.startsWith('0')) throw new SyntaxRefusal(`prefix "/${text}" has a leading zero`);
  const prefix = Number(text);
  if (prefix > full) throw new SyntaxRefusal(`prefix /${text} is longer than /${full}`);
  return prefix;
}

const V4_PART_SHAPE = 'IPv4 needs exactly four dotted decimal parts (short forms like 127.1 or a single number are refused)';

function parseV4Text(text: string): Uint8Array {
  if (/[xX]/.test(text)) throw new SyntaxRefusal('hexadecimal IPv4 parts are refused');
  const stray = /[^0-9.]/.exec(text);
  if (stray) throw new SyntaxRefusal(`unexpected character ${JSON.stringify(stray[0])}`);
  const parts = text.split('.');
  for (const part of parts) {
    if (part.length > 1 && part.startsWith('0')) {
      throw new SyntaxRefusal('octal or leading-zero IPv4 parts are refused');
    }
  }
  if (parts.length !== 4) throw new SyntaxRefusal(V4_PART_SHAPE);
  const bytes = new Uint8Array(4);
  parts.forEach((part, i) => {
    if (part === '') throw new SyntaxRefusal('an IPv4 part is empty');
    if (part.length > 3 || Number(part) > 255) throw new SyntaxRefusal(`IPv4 part ${part} is above 255`);
    bytes[i] = Number(part);
  });
  return bytes;
}

function parseV6Text(text: string): Uint8Array {
  const stray = /[^0-9a-fA-F:.]/.exec(text);
  if (stray) throw new SyntaxRefusal(`unexpected character ${JSON.stringify(stray[0])} in an IPv6 address`);
  const gap = text.indexOf('::');
  if (gap !== -1 && text.indexOf('::', gap + 1) !== -1) throw new SyntaxRefusal("more than one '::'");

  const head = gap === -1 ? text : text.slice(0, gap);
  const tail = gap === -1 ? '' : text.slice(gap + 2);
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === '' ? [] : tail.split(':');
  const all = [...headGroups, ...tailGroups];

  const words: number[] = [];
  // An embedded IPv4 part ends the whole text: "::1.2.3.4" yes, "1.2.3.4::" no.
  const v4Allowed = gap === -1 || tailGroups.length > 0 ? all.length - 1 : -1;
  all.forEach((group, i) => {
    if (group.includes('.')) {
      if (i !== v4Allowed) throw new SyntaxRefusal('an embedded IPv4 part may only come last');
      const v4 = parseV4Text(group);
      words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      return;
    }
    if (group === '') throw new SyntaxRefusal("an IPv6 group is empty (a single ':' at the start or end, or ':::')");
    if (group.length > 4) throw new SyntaxRefusal(`IPv6 group "${group}" has more than 4 hex digits`);
    words.push(parseInt(group, 16));
  });
  // Where the head ends in words (an IPv4 tail in the head counts two).
  const headWords = words.length - countWords(tailGroups);

  if (gap === -1) {
    if (words.length !== 8) throw new SyntaxRefusal(`IPv6 needs 8 groups without '::', got ${words.length}`);
  } else if (words.length > 7) {
    throw new SyntaxRefusal("too many IPv6 groups for a '::' to stand for any");
  }
  const filled = new Array<number>(8).fill(0);
  words.slice(0, headWords).forEach((w, i) => { filled[i] = w; });
  const tailWords = words.slice(headWords);
  tailWords.forEach((w, i) => { filled[8 - tailWords.length + i] = w; });

  const bytes = new Uint8Array(16);
  filled.forEach((w, i) => { bytes[2 * i] = w >> 8; bytes[2 * i + 1] = w & 0xff; });
  return bytes;
}

function countWords(groups: string[]): number {
  return groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
}

function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

// ---------------------------------------------------------------------------------------------------------
// Rules shared by devices and networks

function checkWidthOption(value: number | undefined, fallback: number, full: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > full) {
    throw new RangeError(`${name} must be an integer 1..${full}, got ${String(value)}`);
  }
  return value;
}

function checkHostBits(text: string, parsed: ParsedSyntax, what: 'address' | 'network'): void {
  if (parsed.prefix === FULL_PREFIX[parsed.family]) return;
  const masked = maskBytes(parsed.bytes, parsed.prefix);
  if (!samePrefixBits(masked, parsed.bytes, FULL_PREFIX[parsed.family])) {
    const suggestion = `${parsed.family === 4 ? formatV4(masked) : formatV6(masked)}/${parsed.prefix}`;
    throw new AddressError(text, `host bits set, did you mean ${suggestion}`, what);
  }
}

function firstOverlap(parsed: ParsedSyntax, ranges: SpecialRange[]): SpecialRange | undefined {
  return ranges.find((r) => r.family === parsed.family && samePrefixBits(r.bytes, parsed.bytes, Math.min(r.prefix, parsed.prefix)));
}

function build(family: AddressFamily, bytes: Uint8Array, prefix: number): IpNetwork {
  const own = Uint8Array.from(bytes);
  const address = family === 4 ? formatV4(own) : formatV6(own);
  return { family, address, prefix, bytes: own, text: prefix === FULL_PREFIX[family] ? address : `${address}/${prefix}` };
}

/** The bytes with every bit past `prefix` cleared: the network of an address. */
export function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

// Called for every stored address at start (65,536 of them): no allocation.
function samePrefixBits(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    if (keep === 0) return true;
    const mask = (0xff << (8 - keep)) & 0xff;
    if ((a[i] & mask) !== (b[i] & mask)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Formatting

function formatV4(bytes: Uint8Array): string {
  return Array.from(bytes).join('.');
}

/** RFC 5952: lowercase, no leading zeros, the longest run (≥ 2) of zero groups as '::', first on a tie. */
function formatV6(bytes: Uint8Array): string {
  if (isV4Mapped(bytes)) return `::ffff:${formatV4(bytes.subarray(12))}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i] << 8) | bytes[i + 1]);

  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) { bestStart = i; bestLength = j - i; }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart === -1) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}
