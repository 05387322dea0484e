// Issue 11, "the demo": what `npm start` prints for a person on this machine. The portal URL acts as the remote
// device (its connections leave from 203.0.113.10), a taken port is replaced by a free one without leaving the
// failed attempt's folders behind, and a restarted daemon keeps its port so an open panel finds it again.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { buildStage, OWNER } from '../../scripts/lib/stage';
import { DevPortalClient } from '../../scripts/dev-portal/client';
import { until } from '../../scripts/lib/wait';
import type { Device } from '../../module/engine/contract';

/** Runs `fn` with os.tmpdir() pointing at a fresh folder; returns what is left in it afterwards. */
async function leftovers(fn: () => Promise<void>): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-stage-test-'));
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    await fn();
    return fs.readdirSync(dir);
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const stageDirs = () => fs.readdirSync('/tmp').filter(n => n.startsWith(`sipa-stage-${process.pid}-`));
const namespaces = (tag: string) => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').filter(l => l.includes(tag));

describe('demo: the stage a person uses from this machine', function () {
  this.timeout(120_000);

  it('a taken port gives way to a free one, a restarted daemon keeps its port, and the printed portal URL is the remote device', async () => {
    const blocker = net.createServer();
    await new Promise<void>(r => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as net.AddressInfo).port;
    const said: string[] = [];
    const left = await leftovers(async () => {
      const stage = await buildStage({ tag: 'dstage', ports: { panel: taken }, log: s => said.push(s) });
      try {
        const origin = new URL(stage.panelUrl).origin;
        assert.notEqual(new URL(origin).port, String(taken));
        assert.ok(said.some(s => s.includes(`port ${taken} (panel) is taken`)), said.join('\n'));
        const token = new URLSearchParams(new URL(stage.panelUrl).hash.slice(1)).get('token');
        const status = () => fetch(`${origin}/api/v1/status`, { headers: { Authorization: `Bearer ${token}` } });
        assert.equal((await status()).status, 200);
        await stage.daemon.stop();
        await stage.daemon.start();
        assert.equal((await status()).status, 200, 'the restarted daemon answers where the panel is');

        // The printed portal URL: "Register this device" registers the remote device, not the portal itself.
        assert.equal((await stage.daemon.sipa('enable')).code, 0);
        const web = () => fetch(stage.deviceWebUiUrl, { signal: AbortSignal.timeout(1500) }).then(r => r.status, () => 0);
        assert.equal(await web(), 0, 'the device cannot reach the NAS web UI before it registers');
        const person = new DevPortalClient(stage.devicePortalUrl);
        await person.signIn(OWNER.qnapId, OWNER.password);
        await until('linked', async () => (await stage.daemon.sipaJson<{ portal: { connected: boolean } }>('status')).portal.connected, 20_000, 100);
        // what the page does: both single-family endpoints, reached through their own bridges from this machine
        const r = await person.registerSeen(stage.nasId, { expiry: 120, label: 'from the printed URL' });
        assert.deepEqual(r.device.addresses, [stage.net.remoteAddr[4], stage.net.remoteAddr[6]], 'both of the remote device\'s families');
        assert.deepEqual((await person.sightings()).probes, stage.devicePortalProbeUrls);
        await until('the NAS lists the device', async () => (await stage.daemon.sipaJson<Device[]>('list')).some(d => d.address === stage.net.remoteAddr[4] && d.source === 'portal'), 5000, 50);
        assert.equal(await web(), 200, 'now it can');
      } finally {
        await stage.close();
      }
    });
    blocker.close();
    assert.deepEqual(left, [], 'no temp folder left behind');
    assert.deepEqual(stageDirs(), []);
    assert.deepEqual(namespaces('dstage'), []);
  });

  it('a stage whose daemon cannot start leaves no folder behind', async () => {
    const left = await leftovers(async () => {
      await assert.rejects(buildStage({ tag: 'dfail', daemonConfig: { policy: { minSeconds: -1 } } }), /daemon exited/);
    });
    assert.deepEqual(left, [], 'the failed attempt\'s daemon folder is removed');
    assert.deepEqual(stageDirs(), []);
    assert.deepEqual(namespaces('dfail'), []);
  });
});
