// The domain keeps its own copies of the contract's record types (it imports nothing from above it).
// These compile-time checks fail the build if the copies and module/engine/contract.ts drift apart.
import assert from 'node:assert/strict';
import type * as Contract from '../../module/engine/contract';
import type * as Domain from '../../module/domain/records';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Exact<A, B> = Same<A, B> extends true
  ? (Same<keyof A, keyof B> extends true ? true : false)
  : false;

const deviceMatches: Exact<Domain.Device, Contract.Device> = true;
const expiryMatches: Same<Domain.ExpiryRequest, Contract.ExpiryRequest> = true;
const registerMatches: Exact<Domain.RegisterRequest, Contract.RegisterRequest> = true;
const stateMatches: Same<Domain.DeviceState, Contract.DeviceState> = true;
const sourceMatches: Same<Domain.DeviceSource, Contract.DeviceSource> = true;

describe('domain/records', () => {
  it('mirrors the engine contract types exactly', () => {
    assert.deepEqual([deviceMatches, expiryMatches, registerMatches, stateMatches, sourceMatches],
      [true, true, true, true, true]);
  });
});
