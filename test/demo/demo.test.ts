// README's first command: `npm start -- --once` walks the whole story and says every proof held.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';

describe('demo: npm start -- --once', function () {
  this.timeout(120_000);
  it('walks the story (portal register, admin revoke, session, sign-out, the panel) and every proof holds', async () => {
    const demo = path.resolve(__dirname, '..', '..', 'scripts', 'demo.js');
    const { code, out } = await new Promise<{ code: number; out: string }>(resolve => {
      execFile(process.execPath, [demo, '--once'], { timeout: 110_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
      });
    });
    assert.equal(code, 0, out);
    assert.match(out, /Every proof held\./);
    assert.doesNotMatch(out, /FAILED/);
    assert.equal((out.match(/PROOF:/g) ?? []).length, 18, out);
  });
});
