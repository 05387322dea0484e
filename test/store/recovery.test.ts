import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Store } from '../../module/store';
import { activeDevices, admin, fixedDevice, makeTempDir, removeDir } from './helpers';

const PAGE = 1024;

async function storeWithDevices(dir: string, count: number): Promise<void> {
  const { store } = await Store.open({ dataDir: dir });
  for (let i = 0; i < count; i++) {
    await store.registerDevice(fixedDevice(`198.51.100.${i + 1}`, { label: `device ${i} `.padEnd(120, '.') }), { actor: admin, action: 'register' });
  }
  await store.close();
}

describe('store/recovery: damaged files are moved aside and replaced', () => {
  let dir: string;
  let store: Store | null = null;
  const at = Date.UTC(2025, 2, 4, 5, 6, 7);

  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(async () => {
    await store?.close();
    store = null;
    removeDir(dir);
  });

  it('a file with pages overwritten by garbage is moved to sipa.db.corrupt-<time> and a fresh store opens', async () => {
    await storeWithDevices(dir, 30);
    const file = path.join(dir, 'sipa.db');
    const size = fs.statSync(file).size;
    assert.ok(size >= 8 * PAGE, `test file too small to damage (${size} bytes)`);
    // Keep page 1 (header and schema), trash the table and index pages behind it.
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, crypto.randomBytes(size - 2 * PAGE), 0, size - 2 * PAGE, 2 * PAGE);
    fs.closeSync(fd);
    const damaged = fs.readFileSync(file);

    const opened = await Store.open({ dataDir: dir, now: () => at });
    store = opened.store;
    assert.ok(opened.recovered, 'recovered must be reported');
    assert.equal(opened.recovered.movedTo, path.join(dir, 'sipa.db.corrupt-20250304T050607Z'));
    assert.match(opened.recovered.reason, /integrity check failed|malformed|corrupt/i);
    assert.ok(fs.readFileSync(opened.recovered.movedTo).equals(damaged), 'the damaged file is kept as it was');
    assert.deepEqual(await store.listDevices({ all: true }), []);
    const d = await store.registerDevice(fixedDevice('203.0.113.50'), { actor: admin, action: 'register' });
    assert.equal(d.id, 1);
  });

  it('a file that is not a database at all is moved aside with the reason', async () => {
    fs.writeFileSync(path.join(dir, 'sipa.db'), 'enabled=1\n# someone copied a config file here\n'.repeat(50));
    fs.writeFileSync(path.join(dir, 'sipa.db-wal'), 'not a wal either');
    const opened = await Store.open({ dataDir: dir, now: () => at });
    store = opened.store;
    assert.ok(opened.recovered);
    assert.match(opened.recovered.reason, /not a database/);
    assert.ok(fs.readFileSync(opened.recovered.movedTo, 'utf8').startsWith('enabled=1'));
    assert.equal(fs.readFileSync(`${opened.recovered.movedTo}-wal`, 'utf8'), 'not a wal either');
    assert.deepEqual(await activeDevices(store), []);
  });

  it('a damaged schema page (page 1 past the header) is recovered too', async () => {
    await storeWithDevices(dir, 3);
    const file = path.join(dir, 'sipa.db');
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, crypto.randomBytes(PAGE - 100), 0, PAGE - 100, 100);
    fs.closeSync(fd);
    const opened = await Store.open({ dataDir: dir, now: () => at });
    store = opened.store;
    assert.ok(opened.recovered);
    assert.deepEqual(await activeDevices(store), []);
  });

  it('keeps only the newest corrupt copy, so repeated damage cannot fill the flash', async () => {
    for (const [i, t] of [at, at + 60_000].entries()) {
      fs.writeFileSync(path.join(dir, 'sipa.db'), `garbage ${i}`.repeat(200));
      const opened = await Store.open({ dataDir: dir, now: () => t });
      await opened.store.close();
    }
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes('corrupt')), ['sipa.db.corrupt-20250304T050707Z']);
  });

  it('a torn WAL tail left by a crash is not damage: committed data survives, nothing is moved', async () => {
    const { store: live } = await Store.open({ dataDir: dir });
    const d = await live.registerDevice(fixedDevice('203.0.113.60'), { actor: admin, action: 'register' });
    const crash = makeTempDir();
    try {
      fs.copyFileSync(path.join(dir, 'sipa.db'), path.join(crash, 'sipa.db'));
      fs.copyFileSync(path.join(dir, 'sipa.db-wal'), path.join(crash, 'sipa.db-wal'));
      fs.appendFileSync(path.join(crash, 'sipa.db-wal'), crypto.randomBytes(3000));
      await live.close();
      const opened = await Store.open({ dataDir: crash });
      store = opened.store;
      assert.equal(opened.recovered, null);
      assert.deepEqual(await activeDevices(store), [d]);
      await store.close();
      store = null;
    } finally {
      removeDir(crash);
    }
  });
});
