// README's first command: `npm start -- --once` walks the whole story and says every proof held.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';

describe('demo: npm start -- --once', function () {
  this.timeout(120_000);
  it('walks the story (a dual-stack portal register, admin revoke, session, sign-out, the panel) and every proof holds', async () => {
    const demo = path.resolve(__dirname, '..', '..', 'scripts', 'demo.js');
    const { code, out } = await new Promise<{ code: number; out: string }>(resolve => {
      execFile(process.execPath, [demo, '--once'], { timeout: 110_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
      });
    });
    assert.equal(code, 0, out);
    assert.match(out, /Every proof held\./);
    assert.doesNotMatch(out, /FAILED/);
    assert.equal((out.match(/PROOF:/g) ?? []).length, 20, out);
    assert.match(out, /PROOF: the device reaches the NAS web UI over IPv4/);
    assert.match(out, /PROOF: and over IPv6/);
    assert.match(out, /PROOF: sipa list shows one device with both addresses/);
    assert.match(out, /PROOF: an unregistered dual-stack device .* reaches it over neither family/);
  });
});
