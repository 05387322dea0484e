import assert from 'node:assert/strict';
import { compareListOrder, firstInListOrder, listRank } from '../../module/domain/order';
import type { Device } from '../../module/domain/records';

const NOW = Date.UTC(2026, 10, 25, 12);

function device(id: number, over: Partial<Device> = {}): Device {
  return {
    id, address: `203.0.113.${id % 250}`, addresses: [`203.0.113.${id % 250}`], family: 4, prefix: 32, label: '', qnapId: null, source: 'local',
    policy: 'fixed', sessionId: null, registeredAt: NOW - id * 1000, expiresAt: NOW + 3_600_000, state: 'active', endedAt: null, endedBy: null, endReason: null, ...over,
  };
}

describe('domain/order: the trusted list\'s order', () => {
  it('active fixed ones by their end, then those without one newest first, then ended ones latest end first', () => {
    const list = [
      device(1, { state: 'revoked', endedAt: NOW - 5000 }),
      device(2, { policy: 'until-revoked', expiresAt: null, registeredAt: NOW - 10_000 }),
      device(3, { expiresAt: NOW + 60_000 }),
      device(4, { policy: 'session', sessionId: 's', registeredAt: NOW - 1000 }),
      device(5, { state: 'expired', endedAt: NOW - 1000 }),
      device(6, { expiresAt: NOW + 30_000 }),
    ];
    assert.deepEqual([...list].sort(compareListOrder).map(d => d.id), [6, 3, 4, 2, 5, 1]);
    assert.deepEqual(listRank(device(7, { policy: 'until-revoked', expiresAt: null })), [1, -(NOW - 7000)]);
  });

  it('ties go to the newer registration', () => {
    assert.deepEqual([device(1), device(2)].sort(compareListOrder).map(d => d.id), [2, 1]);
  });

  it('firstInListOrder gives what a full sort gives, for any limit', () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const many = Array.from({ length: 2000 }, (_, i) => {
      const r = rand();
      return r < 0.1 ? device(i + 1, { policy: 'until-revoked', expiresAt: null })
        : r < 0.2 ? device(i + 1, { policy: 'session', sessionId: 's' })
          : device(i + 1, { expiresAt: NOW + Math.floor(rand() * 100) * 1000 });
    });
    const sorted = [...many].sort(compareListOrder);
    for (const limit of [0, 1, 50, 1999, 2000, 5000]) {
      assert.deepEqual(firstInListOrder(many, limit).map(d => d.id), sorted.slice(0, limit).map(d => d.id), `limit ${limit}`);
    }
  });
});
