import { strict as assert } from 'node:assert';
import { ActiveDevices } from '../../module/engine/active';
import type { Device } from '../../module/domain/records';

function device(id: number, addresses: string[], source: Device['source']): Device {
  return { id, address: addresses[0], addresses, source } as unknown as Device;
}

describe('engine/active: the indexes answer as a walk over every device would', () => {
  it('after 2,000 random registrations, renewals, address changes and removals', () => {
    const active = new ActiveDevices<string>();
    let seed = 7;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    const pool = Array.from({ length: 30 }, (_, i) => `203.0.113.${i}`);
    for (let step = 0; step < 2000; step++) {
      const id = rnd(40);
      if (rnd(4) === 0) {
        active.delete(id);
      } else {
        const addresses = [...new Set([pool[rnd(30)], pool[rnd(30)]])];
        const nets = addresses.map(a => `${a}/32`);
        active.set(id, { device: device(id, addresses, rnd(2) ? 'local' : 'portal'), deadline: rnd(1000), nets });
      }
      const all = [...active];
      assert.equal(active.earliestDeadline(), Math.min(Infinity, ...all.map(([, a]) => a.deadline)), `earliest at step ${step}`);
      for (const address of pool) {
        for (const source of ['local', 'portal'] as const) {
          const walked = all.filter(([, a]) => a.device.source === source && a.device.addresses.includes(address)).map(([i]) => i).sort();
          assert.deepEqual(active.idsWithAddress(address, source).sort(), walked, `${source} ${address} at step ${step}`);
        }
        const holders = all.filter(([, a]) => a.nets.includes(`${address}/32`)).map(([i]) => i).sort();
        assert.deepEqual([...active.holdersOf(`${address}/32`)].sort(), holders, `holders of ${address} at step ${step}`);
      }
    }
  });

  it('a renewal that moves the earliest deadline later is seen; an empty set has none', () => {
    const active = new ActiveDevices<string>();
    assert.equal(active.earliestDeadline(), Infinity);
    active.set(1, { device: device(1, ['192.0.2.1'], 'local'), deadline: 10, nets: [] });
    active.set(2, { device: device(2, ['192.0.2.2'], 'local'), deadline: 20, nets: [] });
    assert.equal(active.earliestDeadline(), 10);
    active.set(1, { device: device(1, ['192.0.2.1'], 'local'), deadline: 30, nets: [] });
    assert.equal(active.earliestDeadline(), 20);
    active.delete(2);
    assert.equal(active.earliestDeadline(), 30);
  });
});
