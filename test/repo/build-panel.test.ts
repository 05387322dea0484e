// The panel build replaces its output folder whole: it must never be pointed at something else by accident
// (an empty SIPA_TEST_PANEL_DIR once made it remove the working directory).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = path.resolve(__dirname, '..', '..', '..', 'scripts', 'build-panel.mjs');

describe('scripts/build-panel.mjs: what it may replace', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-build-panel-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const build = (out: string) => spawnSync(process.execPath, [SCRIPT, out], { cwd: dir, encoding: 'utf8' });

  it('refuses an empty folder name and leaves the working directory as it was', () => {
    fs.writeFileSync(path.join(dir, 'mine.txt'), 'kept');
    const r = build('');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /output folder is empty text/);
    assert.equal(fs.readFileSync(path.join(dir, 'mine.txt'), 'utf8'), 'kept');
  });

  it('refuses to replace a folder that is not an earlier build; replaces one that is', () => {
    fs.mkdirSync(path.join(dir, 'other'));
    fs.writeFileSync(path.join(dir, 'other', 'notes.txt'), 'kept');
    const r = build('other');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /not an earlier panel build/);
    assert.equal(fs.readFileSync(path.join(dir, 'other', 'notes.txt'), 'utf8'), 'kept');
    assert.equal(build('panel').status, 0);
    assert.equal(build('panel').status, 0, 'its own earlier build is replaced');
    assert.ok(fs.existsSync(path.join(dir, 'panel', 'manifest.json')));
  });
});
