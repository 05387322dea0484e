import assert from 'node:assert/strict';
import {
  AddressError, DeviceAddressOptions, formatAddress, networkContains, parseDeviceAddress, parseNetwork,
} from '../../module/domain/address';

const HOSTS_ONLY = { allowPrefixes: false };
const PREFIXES = { allowPrefixes: true };

function refusedAsDevice(text: string, opts: DeviceAddressOptions = PREFIXES, reason?: RegExp): AddressError {
  let caught: unknown;
  try {
    parseDeviceAddress(text, opts);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof AddressError, `${JSON.stringify(text)} was accepted`);
  assert.equal(caught.code, 'bad_address');
  assert.equal(caught.input, text);
  const shown = typeof text === 'string' && text.length > 64 ? `${text.slice(0, 64)}…` : text;
  assert.ok(caught.message.startsWith(`${JSON.stringify(shown)} is not a valid address: `), caught.message);
  if (reason) assert.match(caught.reason, reason);
  return caught;
}

describe('domain/address', () => {
  describe('parseDeviceAddress: canonical output for good input', () => {
    const cases: Array<[string, string, 4 | 6, number]> = [
      ['203.0.113.7', '203.0.113.7', 4, 32],
      ['198.51.100.0', '198.51.100.0', 4, 32],
      ['192.0.2.255', '192.0.2.255', 4, 32],
      ['10.1.2.3', '10.1.2.3', 4, 32],
      ['192.168.1.20', '192.168.1.20', 4, 32],
      ['172.16.0.1', '172.16.0.1', 4, 32],
      ['203.0.113.7/32', '203.0.113.7', 4, 32],
      ['2001:DB8:0:0:0:0:0:1', '2001:db8::1', 6, 128],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', 6, 128],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1', 6, 128],
      ['2001:db8::0:1', '2001:db8::1', 6, 128],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1', 6, 128],
      ['2001:db8::1:0:0:0:1', '2001:db8:0:1::1', 6, 128],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1', 6, 128],
      ['2001:db8::1/128', '2001:db8::1', 6, 128],
      ['2001:db8:1:2:3:4:5::', '2001:db8:1:2:3:4:5:0', 6, 128],
      ['2001:db8::192.0.2.33', '2001:db8::c000:221', 6, 128],
      ['fd12:3456:789a::1', 'fd12:3456:789a::1', 6, 128],
      ['::ffff:203.0.113.9', '203.0.113.9', 4, 32],
      ['::FFFF:203.0.113.9', '203.0.113.9', 4, 32],
      ['::ffff:cb00:7109', '203.0.113.9', 4, 32],
      ['0:0:0:0:0:ffff:203.0.113.9', '203.0.113.9', 4, 32],
      ['::ffff:203.0.113.9/128', '203.0.113.9', 4, 32],
      ['64:ff9b::203.0.113.9', '64:ff9b::cb00:7109', 6, 128],
    ];
    for (const [input, text, family, prefix] of cases) {
      it(`${input} → ${text}`, () => {
        const got = parseDeviceAddress(input, HOSTS_ONLY);
        assert.equal(got.text, text);
        assert.equal(got.address, text);
        assert.equal(got.family, family);
        assert.equal(got.prefix, prefix);
        assert.equal(got.bytes.length, family === 4 ? 4 : 16);
        assert.equal(formatAddress(got.family, got.bytes, got.prefix), text);
      });
    }

    it('returns network bytes', () => {
      assert.deepEqual(Array.from(parseDeviceAddress('203.0.113.7', HOSTS_ONLY).bytes), [203, 0, 113, 7]);
      assert.deepEqual(
        Array.from(parseDeviceAddress('2001:db8::1', HOSTS_ONLY).bytes),
        [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
      );
    });
  });

  describe('parseDeviceAddress: prefixes', () => {
    it('accepts a network when prefixes are allowed', () => {
      const got = parseDeviceAddress('203.0.113.0/28', PREFIXES);
      assert.equal(got.text, '203.0.113.0/28');
      assert.equal(got.address, '203.0.113.0');
      assert.equal(got.prefix, 28);
      assert.equal(parseDeviceAddress('2001:db8:0:1::/64', PREFIXES).text, '2001:db8:0:1::/64');
      assert.equal(parseDeviceAddress('2001:db8:1::/48', PREFIXES).text, '2001:db8:1::/48');
      assert.equal(parseDeviceAddress('198.51.100.0/24', PREFIXES).text, '198.51.100.0/24');
    });

    it('refuses a network when prefixes are not allowed, but a /32 or /128 is the host', () => {
      refusedAsDevice('203.0.113.0/28', HOSTS_ONLY, /prefixes are not allowed/);
      refusedAsDevice('2001:db8::/64', HOSTS_ONLY, /prefixes are not allowed/);
      assert.equal(parseDeviceAddress('203.0.113.7/32', HOSTS_ONLY).text, '203.0.113.7');
      assert.equal(parseDeviceAddress('2001:db8::7/128', HOSTS_ONLY).text, '2001:db8::7');
    });

    it('refuses host bits with the network it probably meant', () => {
      const err = refusedAsDevice('203.0.113.7/28');
      assert.equal(err.reason, 'host bits set, did you mean 203.0.113.0/28');
      assert.equal(err.message, '"203.0.113.7/28" is not a valid address: host bits set, did you mean 203.0.113.0/28');
      assert.equal(refusedAsDevice('2001:db8::1/64').reason, 'host bits set, did you mean 2001:db8::/64');
    });

    it('refuses prefixes wider than the configured limit', () => {
      refusedAsDevice('203.0.112.0/23', PREFIXES, /\/23 is wider than the allowed \/24/);
      refusedAsDevice('2001:db8::/47', PREFIXES, /\/47 is wider than the allowed \/48/);
      refusedAsDevice('203.0.113.0/28', { allowPrefixes: true, maxPrefixWidthV4: 29 }, /wider than the allowed \/29/);
      assert.equal(parseDeviceAddress('198.51.0.0/16', { allowPrefixes: true, maxPrefixWidthV4: 16 }).text, '198.51.0.0/16');
      assert.equal(parseDeviceAddress('2001:db8::/32', { allowPrefixes: true, maxPrefixWidthV6: 32 }).text, '2001:db8::/32');
    });

    it('refuses the whole internet even when every width is allowed', () => {
      const wide = { allowPrefixes: true, maxPrefixWidthV4: 1, maxPrefixWidthV6: 1 };
      refusedAsDevice('0.0.0.0/0', wide, /whole internet/);
      refusedAsDevice('::/0', wide, /whole internet/);
      refusedAsDevice('::ffff:0.0.0.0/96', wide, /whole internet/);
    });

    it('refuses a network that overlaps a refused range', () => {
      const wide = { allowPrefixes: true, maxPrefixWidthV4: 1, maxPrefixWidthV6: 1 };
      refusedAsDevice('120.0.0.0/5', wide, /loopback/);
      refusedAsDevice('128.0.0.0/1', wide, /link-local|multicast|reserved|broadcast/);
      refusedAsDevice('fe80::/9', wide, /link-local/);
      refusedAsDevice('fe00::/7', wide, /multicast/);
      refusedAsDevice('127.0.0.0/24', PREFIXES, /loopback/);
    });

    it('maps an IPv4-mapped network to IPv4', () => {
      assert.equal(parseDeviceAddress('::ffff:203.0.113.0/124', PREFIXES).text, '203.0.113.0/28');
      refusedAsDevice('::ffff:0.0.0.0/95', { allowPrefixes: true, maxPrefixWidthV6: 1 }, /at least \/96/);
    });

    it('refuses malformed prefixes', () => {
      for (const bad of ['203.0.113.0/', '203.0.113.0/028', '203.0.113.0/33', '2001:db8::/129', '203.0.113.0/2a',
        '203.0.113.0/24/24', '203.0.113.0/-1', '203.0.113.0/+24', '/24']) {
        refusedAsDevice(bad);
      }
    });

    it('rejects nonsense options as a programming error', () => {
      assert.throws(() => parseDeviceAddress('203.0.113.7', { allowPrefixes: true, maxPrefixWidthV4: 0 }), RangeError);
      assert.throws(() => parseDeviceAddress('203.0.113.7', { allowPrefixes: true, maxPrefixWidthV6: 129 }), RangeError);
      assert.throws(() => parseDeviceAddress('203.0.113.7', { allowPrefixes: true, maxPrefixWidthV4: 2.5 }), RangeError);
    });
  });

  describe('parseDeviceAddress: CVE-2021-28918 (netmask: leading-zero octets read as decimal)', () => {
    // Published vectors and their octal siblings: each must be refused, never read as decimal or as octal.
    const vectors = [
      '0127.0.0.1', '012.0.0.1', '00000000000000000000127.0.0.1', '0177.0.0.1', '0150.0024.0073.0321',
      '010.0.0.1', '0.0.0.01', '127.0.0.01', '127.000.000.001', '012.0.0.0/8', '0127.0.0.0/8',
      '00.0.0.0', '192.168.01.1', '0x7f.0.0.1', '0x7F.0x0.0x0.0x1',
    ];
    for (const v of vectors) {
      it(`refuses ${v}`, () => {
        refusedAsDevice(v, { allowPrefixes: true, maxPrefixWidthV4: 1 }, /octal|leading-zero|hexadecimal/);
      });
    }
    it('the same vectors are refused as LAN networks too', () => {
      for (const v of vectors) assert.throws(() => parseNetwork(v), AddressError, v);
    });
  });

  describe('parseDeviceAddress: CVE-2024-29415 and CVE-2023-42282 (node-ip isPublic bypasses)', () => {
    const vectors: Array<[string, RegExp]> = [
      ['127.1', /four dotted decimal parts/],
      ['127.0.1', /four dotted decimal parts/],
      ['01200034567', /octal|leading-zero/],
      ['012.1.2.3', /octal|leading-zero/],
      ['0x7f.1', /hexadecimal/],
      ['0x7f000001', /hexadecimal/],
      ['0x7F000001', /hexadecimal/],
      ['017700000001', /octal|leading-zero/],
      ['2130706433', /four dotted decimal parts/],
      ['4294967295', /four dotted decimal parts/],
      ['000:0:0000::01', /::1 is the loopback/],
      ['0:0:0:0:0:0:0:1', /::1 is the loopback/],
      ['::0:1', /::1 is the loopback/],
      ['::1', /::1 is the loopback/],
      ['::fFFf:127.0.0.1', /loopback/],
      ['::ffff:127.0.0.1', /loopback/],
      ['::ffff:7f00:1', /loopback/],
      ['0:0:0:0:0:ffff:7f00:0001', /loopback/],
      ['::ffff:0127.0.0.1', /octal|leading-zero/],
      ['::ffff:10.0.0.', /empty/],
      ['::127.0.0.1', /IPv4-compatible/],
      ['::7f00:1', /IPv4-compatible/],
      ['fe80::1%eth0', /zone/],
      ['fe80::1%25eth0', /zone/],
      ['::', /unspecified/],
      ['::0', /unspecified/],
      ['0', /four dotted decimal parts/],
      ['0.0.0.0', /unspecified/],
      ['0.0.0.1', /this network/],
      ['127.0.0.1', /loopback/],
      ['127.255.255.254', /loopback/],
      ['169.254.169.254', /link-local/],
      ['fe80::1', /link-local/],
      ['febf::1', /link-local/],
      ['224.0.0.1', /multicast/],
      ['239.255.255.250', /multicast/],
      ['ff02::1', /multicast/],
      ['ff05::1:3', /multicast/],
      ['255.255.255.255', /broadcast/],
      ['240.0.0.1', /reserved/],
      ['::ffff:169.254.169.254', /link-local/],
      ['::ffff:255.255.255.255', /broadcast/],
      ['::ffff:0.0.0.0', /unspecified/],
    ];
    for (const [v, reason] of vectors) {
      it(`refuses ${v}`, () => { refusedAsDevice(v, PREFIXES, reason); });
    }
  });

  describe('parseDeviceAddress: malformed text', () => {
    const malformed = [
      '', ' 203.0.113.7', '203.0.113.7 ', '203.0.113.7\n', '203.0.113. 7', '\t::1', '203.0.113.7\u00a0',
      '1.2.3', '1.2.3.4.5', '1..2.3', '.1.2.3', '1.2.3.', '256.1.2.3', '1.2.3.1000', '1.2.3.-4', '+1.2.3.4',
      '1e2.1.2.3', '١.٢.٣.٤', 'example.com', 'localhost',
      '2001:db8::1::1', '2001:db8:::1', ':::', ':1::', '1::2:', ':2001:db8::1', '2001:db8::1:',
      '2001:db8:0:0:0:0:0:0:1', '2001:db8:0:0:0:0:1', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8',
      '2001:db8::00001', '2001:db8::g', '2001:db8::-1', '[2001:db8::1]', '1.2.3.4::', '1.2.3.4:1::',
      '::1.2.3.4:1', '::ffff:1.2.3', '::ffff:1.2.3.4.5', '1:2:3:4:5:6:7:1.2.3.4', '0x2001:db8::1',
      '2001:db8::1'.padEnd(80, '0'),
    ];
    for (const bad of malformed) {
      it(`refuses ${JSON.stringify(bad)}`, () => { refusedAsDevice(bad); });
    }

    it('says why, in words a person can act on', () => {
      assert.equal(refusedAsDevice('012.1.2.3').message,
        '"012.1.2.3" is not a valid address: octal or leading-zero IPv4 parts are refused');
      assert.match(refusedAsDevice('203.0.113.7 ').reason, /whitespace/);
      assert.match(refusedAsDevice('2001:db8::1::1').reason, /more than one '::'/);
      assert.match(refusedAsDevice('2001:db8::00001').reason, /more than 4 hex digits/);
      assert.match(refusedAsDevice('').reason, /empty/);
    });

    it('bounds the echoed input', () => {
      const err = refusedAsDevice('1'.repeat(10_000));
      assert.ok(err.message.length < 200, err.message);
    });

    it('refuses input that is not a string at runtime', () => {
      assert.throws(() => parseDeviceAddress(2130706433 as unknown as string, PREFIXES), AddressError);
      assert.throws(() => parseDeviceAddress(undefined as unknown as string, PREFIXES), AddressError);
    });

    it('accepts 7 groups around a :: that stands for one zero group', () => {
      assert.equal(parseDeviceAddress('2001:db8:1:2:3:4::5', HOSTS_ONLY).text, '2001:db8:1:2:3:4:0:5');
      assert.equal(parseDeviceAddress('::2001:db8:1:2:3:4:5', HOSTS_ONLY).text, '0:2001:db8:1:2:3:4:5');
    });
  });

  describe('parseNetwork', () => {
    const good: Array<[string, string]> = [
      ['192.168.1.0/24', '192.168.1.0/24'],
      ['10.0.0.0/8', '10.0.0.0/8'],
      ['172.16.0.0/12', '172.16.0.0/12'],
      ['169.254.0.0/16', '169.254.0.0/16'],
      ['192.168.1.5', '192.168.1.5'],
      ['192.168.1.5/32', '192.168.1.5'],
      ['fe80::/10', 'fe80::/10'],
      ['FD00::/8', 'fd00::/8'],
      ['fc00::/7', 'fc00::/7'],
      ['2001:db8::/32', '2001:db8::/32'],
      ['fe80::1', 'fe80::1'],
      ['::ffff:192.168.0.0/112', '192.168.0.0/16'],
    ];
    for (const [input, text] of good) {
      it(`${input} → ${text}`, () => {
        const got = parseNetwork(input);
        assert.equal(got.text, text);
        assert.equal(formatAddress(got.family, got.bytes, got.prefix), text);
      });
    }

    it('returns the bare address as a /32 or /128', () => {
      assert.equal(parseNetwork('192.168.1.5').prefix, 32);
      assert.equal(parseNetwork('fe80::1').prefix, 128);
    });

    it('refuses /0, host bits, non-unicast and malformed text', () => {
      const cases: Array<[string, RegExp]> = [
        ['0.0.0.0/0', /whole internet/],
        ['::/0', /whole internet/],
        ['192.168.1.1/24', /host bits set, did you mean 192\.168\.1\.0\/24/],
        ['fe80::1/64', /host bits set, did you mean fe80::\/64/],
        ['224.0.0.0/4', /multicast/],
        ['ff00::/8', /multicast/],
        ['0.0.0.0', /unspecified/],
        ['::', /unspecified/],
        ['255.255.255.255', /broadcast/],
        ['127.0.0.0/8', /loopback/],
        ['::1', /loopback/],
        ['192.168.01.0/24', /leading-zero/],
        ['192.168.1', /four dotted/],
        ['fe80::%eth0/64', /zone/],
        ['', /empty/],
      ];
      for (const [input, reason] of cases) {
        let caught: unknown;
        try { parseNetwork(input); } catch (err) { caught = err; }
        assert.ok(caught instanceof AddressError, `${input} was accepted`);
        assert.match(caught.reason, reason, input);
        assert.ok(caught.message.startsWith(`${JSON.stringify(input)} is not a valid network: `), caught.message);
      }
    });
  });

  describe('networkContains', () => {
    const lan = parseNetwork('192.168.1.0/24');
    it('holds for addresses and subnets inside, not for others', () => {
      assert.equal(networkContains(lan, parseNetwork('192.168.1.77')), true);
      assert.equal(networkContains(lan, parseNetwork('192.168.1.0')), true);
      assert.equal(networkContains(lan, parseNetwork('192.168.1.255')), true);
      assert.equal(networkContains(lan, parseNetwork('192.168.1.128/25')), true);
      assert.equal(networkContains(lan, parseNetwork('192.168.2.1')), false);
      assert.equal(networkContains(lan, parseNetwork('192.168.0.0/16')), false);
      assert.equal(networkContains(parseNetwork('fe80::/10'), parseNetwork('febf::1')), true);
      assert.equal(networkContains(parseNetwork('fe80::/10'), parseNetwork('fec0::1')), false);
    });
    it('never mixes families', () => {
      assert.equal(networkContains(parseNetwork('2001:db8::1'), parseNetwork('32.1.13.184')), false);
      assert.equal(networkContains(parseNetwork('2001:db8::/32'), parseNetwork('32.1.13.184')), false);
    });
    it('an IPv4-mapped spelling is inside its IPv4 network', () => {
      assert.equal(networkContains(lan, parseDeviceAddress('::ffff:192.168.1.9', HOSTS_ONLY)), true);
    });
  });

  describe('one spelling per address', () => {
    it('different spellings of one address parse to one canonical text (what the store keeps and compares)', () => {
      assert.equal(parseDeviceAddress('2001:DB8::1', HOSTS_ONLY).text, parseDeviceAddress('2001:0db8:0:0:0:0:0:0001', HOSTS_ONLY).text);
      assert.equal(parseDeviceAddress('::ffff:203.0.113.9', HOSTS_ONLY).text, parseDeviceAddress('203.0.113.9', HOSTS_ONLY).text);
      assert.notEqual(parseDeviceAddress('203.0.113.0/28', PREFIXES).text, parseDeviceAddress('203.0.113.0', PREFIXES).text);
    });
  });

  describe('formatAddress', () => {
    it('formats kernel bytes canonically', () => {
      assert.equal(formatAddress(4, Uint8Array.from([203, 0, 113, 7]), 32), '203.0.113.7');
      assert.equal(formatAddress(4, Uint8Array.from([203, 0, 113, 0]), 28), '203.0.113.0/28');
      assert.equal(formatAddress(4, Uint8Array.from([203, 0, 113, 7])), '203.0.113.7');
      const v6 = new Uint8Array(16);
      assert.equal(formatAddress(6, v6, 128), '::');
      v6[0] = 0x20; v6[1] = 0x01; v6[2] = 0x0d; v6[3] = 0xb8; v6[15] = 1;
      assert.equal(formatAddress(6, v6, 128), '2001:db8::1');
      assert.equal(formatAddress(6, v6, 64), '2001:db8::1/64');
    });
    it('follows RFC 5952: longest zero run, first on a tie, a single zero group stays', () => {
      const words = (ws: number[]): Uint8Array => Uint8Array.from(ws.flatMap((w) => [w >> 8, w & 0xff]));
      assert.equal(formatAddress(6, words([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1])), '2001:db8::1:0:0:1');
      assert.equal(formatAddress(6, words([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1])), '2001:db8:0:1:1:1:1:1');
      assert.equal(formatAddress(6, words([0x2001, 0, 0, 1, 0, 0, 0, 1])), '2001:0:0:1::1');
      assert.equal(formatAddress(6, words([0, 0, 0, 0, 0, 0, 0, 1])), '::1');
      assert.equal(formatAddress(6, words([1, 0, 0, 0, 0, 0, 0, 0])), '1::');
      assert.equal(formatAddress(6, words([0xABCD, 0xEF, 0, 0, 0, 0, 0, 0])), 'abcd:ef::');
      assert.equal(formatAddress(6, words([0, 0, 0, 0, 0, 0xffff, 0xcb00, 0x7109])), '::ffff:203.0.113.9');
    });
    it('refuses wrong lengths and prefixes as programming errors', () => {
      assert.throws(() => formatAddress(4, new Uint8Array(16), 32), RangeError);
      assert.throws(() => formatAddress(6, new Uint8Array(4), 128), RangeError);
      assert.throws(() => formatAddress(4, new Uint8Array(4), 33), RangeError);
      assert.throws(() => formatAddress(5 as 4, new Uint8Array(4), 32), RangeError);
    });
  });

  describe('round trip', () => {
    it('parse(format(bytes)) gives the same bytes for many addresses', () => {
      // Deterministic pseudo-random bytes, so a failure reproduces.
      let seed = 0x5eed;
      const next = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed >> 16; };
      for (let n = 0; n < 2000; n++) {
        const bytes = new Uint8Array(16);
        for (let i = 0; i < 16; i++) bytes[i] = next() % 4 === 0 ? 0 : next() & 0xff;
        bytes[0] = 0x20; bytes[1] = 0x01;
        const text = formatAddress(6, bytes, 128);
        const parsed = parseDeviceAddress(text, HOSTS_ONLY);
        assert.deepEqual(Array.from(parsed.bytes), Array.from(bytes), text);
        assert.equal(parsed.text, text);
      }
    });
  });
});
