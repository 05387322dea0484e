// What `sipa` makes of a command line, before anything reaches the daemon.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseCommandLine, registerBody, UsageError } from '../../module/cli/main';
import { readRegisterFile, UNTIL_REVOKED } from '../../module/cli/batch-file';

describe('cli: command line', () => {
  it('reads register with a fixed duration in every accepted form', () => {
    for (const [text, seconds] of [['90', 90], ['90s', 90], ['15m', 900], ['2h', 7200], ['1h30m', 5400]] as const) {
      const body = registerBody(parseCommandLine(['register', '203.0.113.7', '--for', text, '--label', 'tv']));
      assert.deepEqual(body, { address: '203.0.113.7', label: 'tv', expiry: { policy: 'fixed', seconds } });
    }
  });

  it('reads register for a session, with a default lease of 15 minutes', () => {
    assert.deepEqual(registerBody(parseCommandLine(['register', '2001:db8::7', '--session', 'S1'])),
      { address: '2001:db8::7', expiry: { policy: 'session', sessionId: 'S1', leaseSeconds: 900 } });
  });

  it('reads a device with several addresses: the first, then the others', () => {
    const p = parseCommandLine(['register', '203.0.113.7', '2001:db8::7', '--for', '2h']);
    assert.deepEqual(registerBody(p), { address: '203.0.113.7', moreAddresses: ['2001:db8::7'], expiry: { policy: 'fixed', seconds: 7200 } });
  });

  it('reads register until revoked (the daemon decides whether its policy allows it)', () => {
    assert.deepEqual(registerBody(parseCommandLine(['register', '203.0.113.7', '--until-revoked', '--label', 'office'])),
      { address: '203.0.113.7', label: 'office', expiry: { policy: 'until-revoked' } });
  });

  it('reads a file of devices whose lines say until-revoked, or take --until-revoked as their default', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-args-'));
    try {
      const file = path.join(dir, 'office.csv');
      fs.writeFileSync(file, 'address,for,label\n203.0.113.7,until-revoked,office\n{"address":"203.0.113.8","for":"2h"}\n203.0.113.9\n');
      const p = parseCommandLine(['register', '--from', file, '--until-revoked']);
      assert.equal(p.values['until-revoked'], true);
      assert.deepEqual(readRegisterFile(file, UNTIL_REVOKED).map(l => [l.line, l.item.expiry]), [
        [2, { policy: 'until-revoked' }], [3, { policy: 'fixed', seconds: 7200 }], [4, { policy: 'until-revoked' }],
      ]);
      fs.writeFileSync(file, '203.0.113.7,forever\n');
      assert.throws(() => readRegisterFile(file, undefined), /line 1: .*forever.* \(or until-revoked\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  const refused: Array<[string[], RegExp]> = [
    [['register', '203.0.113.7'], /one of --for DURATION, --session ID or --until-revoked/],
    [['register', '203.0.113.7', '--for', '1m', '--session', 'x'], /one of --for DURATION, --session ID or --until-revoked/],
    [['register', '203.0.113.7', '--for', '1m', '--until-revoked'], /one of --for DURATION, --session ID or --until-revoked/],
    [['register', '--from', 'f.csv', '--label', 'x'], /--from FILE takes the label and duration from each line/],
    [['register', '--from', 'f.csv', '--for', '1h', '--until-revoked'], /--for and --until-revoked are two defaults/],
    [['list', '--until-revoked'], /list does not take --until-revoked/],
    [['register', '203.0.113.7', '--for', 'soon'], /soon/],
    [['register', '203.0.113.7', '--for', '-5m'], /--for needs a value/],
    [['register', '203.0.113.7', '--for=-5m'], /-5m/],
    [['register', '203.0.113.7', '--for', '1m', '--lease', '5m'], /--lease goes with --session/],
    [['register'], /one ADDRESS or more/],
    [['register', '203.0.113.7', '--from', 'f.csv'], /one ADDRESS or more|takes no arguments|from/],
    [['revoke'], /exactly one ID or ADDRESS/],
    [['status', 'extra'], /takes no arguments/],
    [['list', '--for', '1m'], /list does not take --for/],
    [['list', '--nope'], /nope/],
    [['explode'], /unknown command "explode"/],
  ];
  for (const [argv, message] of refused) {
    it(`refuses: sipa ${argv.join(' ')}`, () => {
      assert.throws(() => {
        const p = parseCommandLine(argv);
        if (p.command === 'register') registerBody(p);
      }, (e: Error) => e instanceof UsageError && message.test(e.message));
    });
  }

  it('takes --config and --json anywhere, and --help', () => {
    const p = parseCommandLine(['--config', '/tmp/x.json', 'list', '--all', '--json']);
    assert.equal(p.command, 'list');
    assert.equal(p.values.config, '/tmp/x.json');
    assert.equal(p.values.all, true);
    assert.equal(parseCommandLine(['--help']).command, 'help');
    assert.equal(parseCommandLine([]).command, 'help');
  });
});
