// Text that reaches people (labels, revoke reasons): no controls, C0 or C1, and no marks that reorder text.
import assert from 'node:assert/strict';
import { Engine, EngineError } from '../../module/engine/engine';
import type { Actor } from '../../module/engine/contract';
import { testEngine, type TestEngine } from '../support/test-engine';

const admin: Actor = { surface: 'cli', name: 'admin' };

describe('engine: labels and reasons shown to people', () => {
  let h: TestEngine;
  let engine: Engine;

  beforeEach(async () => {
    h = await testEngine();
    engine = h.engine;
  });
  afterEach(async () => {
    await h.dispose();
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
