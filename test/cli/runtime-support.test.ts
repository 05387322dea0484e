// When the runtime is past its end of life, `sipa status` and `sipa doctor` say so (the 32-bit ARM packages ship
// Node 20.11.0, whose line ended on 2026-04-30).
import assert from 'node:assert/strict';
import { runtimeSupport } from '../../module/cli/runtime-support';
import { runtimeText, statusText } from '../../module/cli/format';
import type { Status } from '../../module/engine/contract';

describe('cli: the runtime and its end of life', () => {
  const day = (iso: string) => Date.parse(iso);

  it('knows the end of each LTS line and counts its last day as supported', () => {
    assert.deepEqual(runtimeSupport('v20.11.0', day('2026-04-30T23:59:00Z')), { node: 'v20.11.0', endOfLife: '2026-04-30', pastEndOfLife: false });
    assert.deepEqual(runtimeSupport('v20.11.0', day('2026-05-01T00:00:00Z')), { node: 'v20.11.0', endOfLife: '2026-04-30', pastEndOfLife: true });
    assert.deepEqual(runtimeSupport('v24.22.3', day('2026-11-29T00:00:00Z')), { node: 'v24.22.3', endOfLife: '2028-04-30', pastEndOfLife: false });
    assert.equal(runtimeSupport('v26.12.1', day('2029-05-01T00:00:00Z')).pastEndOfLife, true);
  });

  it('does not guess for a line it does not know', () => {
    assert.deepEqual(runtimeSupport('v31.0.0', day('2026-11-29T00:00:00Z')), { node: 'v31.0.0', endOfLife: null, pastEndOfLife: false });
    assert.match(runtimeText(runtimeSupport('v31.0.0')), /not known/);
  });

  it('sipa status shouts when the runtime is past its end of life, and is quiet about it otherwise', () => {
    const base: Status = {
      enabled: true, enforcing: true, activeDevices: 0, lanNetworks: [], clockTrusted: true, ipv6Scope: 'network', allowUntilRevoked: false, clockNote: null,
      storeRecovered: null, storageFull: null, quarantinedRows: 0, unrecordedEnds: 0, portal: { configured: false, bound: false, connected: false }, version: '0.1.0',
    };
    assert.match(statusText({ ...base, runtime: runtimeSupport('v20.11.0', day('2026-11-29T00:00:00Z')) }),
      /\n {2}RUNTIME: +Node\.js v20\.11\.0, PAST ITS END OF LIFE \(2026-04-30\): no security fixes/);
    assert.match(statusText({ ...base, runtime: runtimeSupport('v24.22.3', day('2026-11-29T00:00:00Z')) }), /\n {2}runtime: +Node\.js v24\.22\.3, supported until 2028-04-30$/);
    assert.doesNotMatch(statusText(base), /runtime/i);
  });
});
