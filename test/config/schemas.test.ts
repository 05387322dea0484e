import { strict as assert } from 'node:assert';
import { checkConfig, firstFault, restartRequiredChanges, validatorFor } from '../../module/config';

describe('config/schemas: one validator for the config, the API bodies and the portal messages', () => {
  it('names the field and what was expected, in one style for every schema', () => {
    const cases: Array<[string, unknown, string, string]> = [
      ['api-register.schema.json', { expiry: { policy: 'fixed', seconds: 60 } }, 'address', 'address is missing'],
      ['api-register.schema.json', { address: '203.0.113.9', source: 'portal', expiry: { policy: 'fixed', seconds: 60 } }, 'source', 'unknown field "source"; remove it'],
      ['api-register.schema.json', { address: '203.0.113.9', expiry: { policy: 'forever' } }, 'expiry.policy', 'expiry.policy must be "fixed" or "session" or "until-revoked"'],
      ['api-register.schema.json', { address: '203.0.113.9', expiry: { policy: 'fixed', seconds: 0 } }, 'expiry.seconds', 'expiry.seconds must be at least 1'],
      ['api-register.schema.json', { address: 7, expiry: { policy: 'fixed', seconds: 60 } }, 'address', 'address must be a string'],
      ['config.schema.json', { dataDir: '/x', firewall: { action: 'block' } }, 'firewall.action', 'firewall.action must be one of "drop", "reject"'],
      ['config.schema.json', { dataDir: '/x', policy: { leaseMinSeconds: 5 } }, 'policy.leaseMinSeconds', 'unknown field "leaseMinSeconds" in policy; remove it'],
    ];
    for (const [ref, value, field, text] of cases) {
      assert.deepEqual(firstFault(ref, JSON.parse(JSON.stringify(value))), { field, text }, `${ref} ${JSON.stringify(value)}`);
    }
  });

  it('puts a prefix before the field for a portal message, and names the value itself when it is at fault', () => {
    assert.deepEqual(firstFault('portal-envelope.schema.json', 'not an object', 'envelope'), { field: '', text: 'envelope must be an object' });
    const fault = firstFault('portal-envelope.schema.json', {}, 'envelope');
    assert.ok(fault && fault.text.startsWith('envelope.') && fault.text.endsWith(' is missing'), JSON.stringify(fault));
  });

  it('compiles each schema once, and the defaults come from the schemas', () => {
    assert.equal(validatorFor('config.schema.json'), validatorFor('config.schema.json'));
    const config = checkConfig({ dataDir: '/x' });
    assert.deepEqual(config.prune, { schedule: '0 17 3 * * *', endedDeviceDays: 30, auditMaxDays: 365, auditMaxRows: 10000 });
    assert.equal(config.portal.heartbeatSeconds, 25);
    assert.equal(config.portal.requestTimeoutSeconds, 15);
  });

  it('names the keys a reload cannot apply, as the schema marks them, and only those', () => {
    const base = { dataDir: '/x', firewall: { lan: [], extraLan: [] } };
    const before = checkConfig(base);
    const same = checkConfig({ ...base, policy: { maxSeconds: 3600 }, firewall: { lan: [], extraLan: ['192.0.2.0/24'], action: 'reject' }, log: { level: 'debug' } });
    assert.deepEqual(restartRequiredChanges(before, same), []);
    const moved = checkConfig({ ...base, runDir: '/y', firewall: { lan: [], extraLan: [], chain: 'OTHER' }, api: { http: { port: 8492 } }, portal: { url: 'https://portal.example.com' } });
    assert.deepEqual(restartRequiredChanges(before, moved), ['runDir', 'firewall.chain', 'api', 'portal']);
  });
});
