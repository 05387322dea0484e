// Text that reaches people (labels, revoke reasons): no controls, C0 or C1, and no marks that reorder text.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sinon from 'sinon';
import { Engine, EngineError } from '../../module/engine/engine';
import { checkConfig } from '../../module/config';
import { Store, SwitchFile } from '../../module/store';
import type { Enforcement } from '../../module/kernel/enforcer';
import { silentLogger } from '../../module/engine/log';
import type { Actor } from '../../module/engine/contract';

const admin: Actor = { surface: 'cli', name: 'admin' };

describe('engine: labels and reasons shown to people', () => {
  let dir: string;
  let store: Store;
  let engine: Engine;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-text-'));
    ({ store } = await Store.open({ dataDir: dir }));
    const kernel = {
      install: sinon.stub().resolves(), remove: sinon.stub().resolves(), allow: sinon.stub().returns([]),
      disallow: sinon.stub().returns({ cut: 0, failed: [] }), replaceAllowed: sinon.stub().returns([]), setLan: sinon.stub(),
      listAllowed: sinon.stub().returns([]), installed: sinon.stub().returns(false),
      check: sinon.stub().resolves({ ok: true, problems: [], allowed: { 4: 0, 6: 0 } }),
    } as unknown as Enforcement;
    const config = checkConfig({ dataDir: dir, firewall: { lan: [], extraLan: [] } });
    engine = new Engine({ store, kernel, config, log: silentLogger, version: 'test', buildTimeMs: 0, switch: new SwitchFile(dir) });
    await engine.start();
  });
  afterEach(async () => {
    await engine.stop();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const register = (label: string) => engine.register({ address: '203.0.113.7', source: 'local', label, expiry: { policy: 'fixed', seconds: 600 } }, admin);

  for (const [what, label, code] of [
    ['a right-to-left override (exe shown as gnp)', 'photo\u202Egnp.exe', 'U+202E'],
    ['a left-to-right embedding', '\u202Aphone', 'U+202A'],
    ['a first-strong isolate', 'pho\u2068ne', 'U+2068'],
    ['a pop directional isolate', 'phone\u2069', 'U+2069'],
    ['a right-to-left mark', 'pho\u200Fne', 'U+200F'],
    ['an Arabic letter mark', 'pho\u061Cne', 'U+061C'],
    ['a C1 next-line', 'pho\u0085ne', 'U+0085'],
    ['a C1 control sequence introducer', 'pho\u009B31mne', 'U+009B'],
    ['a C0 escape', 'pho\u001Bne', 'U+001B'],
  ] as const) {
    it(`refuses a label with ${what}, naming the field`, async () => {
      await assert.rejects(register(label), (e: unknown) => e instanceof EngineError && e.code === 'bad_label' && e.field === 'label'
        && e.message === `label must not contain control characters or text-direction marks (found ${code})`);
      assert.deepEqual(await engine.list({ all: true }), []);
    });
  }

  it('accepts text in any script, and refuses a revoke reason with a direction mark, naming the field', async () => {
    const d = await register('Anna’s phone — 日本語 עברית');
    assert.equal(d.label, 'Anna’s phone — 日本語 עברית');
    await assert.rejects(engine.revoke(d.id, admin, 'lost \u2066phone'), (e: unknown) => e instanceof EngineError && e.field === 'reason' && e.code === 'bad_reason'
      && /reason must not contain control characters or text-direction marks \(found U\+2066\)/.test(e.message));
    await assert.rejects(engine.revoke(d.id, admin, 'lost \u0090phone'), /found U\+0090/);
    assert.equal((await engine.revoke(d.id, admin, 'lost phone')).state, 'revoked');
  });
});
