import { strict as assert } from 'node:assert';
import { parseNetwork } from '../../module/domain';
import { heldIn, packEntry, unpackEntry, writeEntryBytes } from '../../module/kernel/packed-entry';

const entry = (text: string) => packEntry(parseNetwork(text));

describe('kernel/packed-entry: a kernel entry as one short string', () => {
  it('unpacks to the family, prefix and bytes it was packed from, for both families', () => {
    for (const text of ['203.0.113.7', '198.51.100.0/24', '2001:db8::7', '2001:db8:1:2::/64']) {
      const n = parseNetwork(text);
      const back = unpackEntry(packEntry(n));
      assert.deepEqual([back.family, back.prefix, Array.from(back.bytes)], [n.family, n.prefix, Array.from(n.bytes)], text);
    }
  });

  it('clears the host bits past the prefix, as the kernel does, so that one network has one key', () => {
    const host = parseNetwork('2001:db8:1:2::99');
    assert.equal(packEntry({ ...host, prefix: 64 }), entry('2001:db8:1:2::/64'));
    assert.equal(packEntry({ family: 4, bytes: Uint8Array.of(203, 0, 113, 77), prefix: 24 }), entry('203.0.113.0/24'));
    assert.notEqual(entry('203.0.113.0/24'), entry('203.0.113.0/25'));
  });

  it('keeps the families apart: the same bytes in IPv4 and in the first bytes of IPv6 are different keys', () => {
    assert.notEqual(entry('32.1.13.184'), packEntry({ family: 6, bytes: parseNetwork('2001:db8::').bytes, prefix: 32 }));
  });

  it('refuses bytes of the wrong length for the family', () => {
    assert.throws(() => packEntry({ family: 4, bytes: new Uint8Array(16), prefix: 32 }), /IPv4 entry has 4 bytes, not 16/);
  });

  it('writes its bytes where the helper reads them, and nothing else', () => {
    const out = new Uint8Array(20).fill(0xee);
    writeEntryBytes(entry('203.0.113.7'), out, 8);
    assert.deepEqual(Array.from(out.subarray(6, 14)), [0xee, 0xee, 203, 0, 113, 7, 0xee, 0xee]);
  });

  it('heldIn: an address is held by its /32 or /128, by a network around it, and by nothing of the other family', () => {
    const holds = heldIn(parseNetwork('2001:db8:1:2::99'));
    assert.equal(holds(entry('2001:db8:1:2::99')), true);
    assert.equal(holds(entry('2001:db8:1:2::/64')), true);
    assert.equal(holds(entry('2001:db8:1:3::/64')), false);
    assert.equal(holds(entry('2001:db8:1:2::98')), false);
    assert.equal(holds(entry('203.0.113.7')), false);
    const v4 = heldIn(parseNetwork('203.0.113.7'));
    assert.equal(v4(entry('203.0.113.0/24')), true);
    assert.equal(v4(entry('203.0.114.0/24')), false);
    assert.equal(heldIn(parseNetwork('203.0.113.0/24'))(entry('203.0.113.7')), false, 'a network is not held by one of its hosts');
  });
});
