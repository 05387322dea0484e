import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import sinon from 'sinon';
import sqlite3 from 'sqlite3';
import { SCHEMA_VERSION, Store, StoreError } from '../../module/store';
import { activeDevices, admin, fixedDevice, makeTempDir, removeDir, snapshotDir } from './helpers';

function rawGet<T>(file: string, sql: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(err);
      db.get<T>(sql, (e, row) => db.close(() => (e ? reject(e) : resolve(row))));
    });
  });
}

describe('store/database: open, pragmas, write queue, faults', () => {
  let dir: string;
  let store: Store | null = null;

  beforeEach(() => {
    dir = makeTempDir();
  });
  afterEach(async () => {
    sinon.restore();
    await store?.close();
    store = null;
    removeDir(dir);
  });

  it('creates sipa.db in WAL mode with synchronous=FULL, exclusive locking and the latest schema', async () => {
    const opened = await Store.open({ dataDir: dir });
    store = opened.store;
    assert.equal(opened.recovered, null);
    assert.ok(fs.statSync(path.join(dir, 'sipa.db')).isFile());
    assert.deepEqual(await store.storageInfo(), {
      journalMode: 'wal', synchronous: 2, lockingMode: 'exclusive', pageSize: 1024, schemaVersion: SCHEMA_VERSION,
    });
    // Exclusive locking keeps the WAL index in memory: no -shm file on the flash.
    assert.equal(fs.existsSync(path.join(dir, 'sipa.db-shm')), false);
  });

  it('re-opening an up-to-date store and closing it writes nothing to sipa.db', async () => {
    store = (await Store.open({ dataDir: dir })).store;
    await store.registerDevice(fixedDevice('203.0.113.7'), { actor: admin, action: 'register' });
    await store.close();
    const before = snapshotDir(dir);
    const bytes = fs.readFileSync(path.join(dir, 'sipa.db'));
    store = (await Store.open({ dataDir: dir })).store;
    assert.equal((await activeDevices(store)).length, 1);
    await store.close();
    store = null;
    assert.deepEqual(snapshotDir(dir), before);
    assert.ok(fs.readFileSync(path.join(dir, 'sipa.db')).equals(bytes));
  });

  it('a change is in the files on disk when its promise resolves', async () => {
    store = (await Store.open({ dataDir: dir })).store;
    const d = await store.registerDevice(fixedDevice('198.51.100.20'), { actor: admin, action: 'register' });
    // Copy db + WAL as a crash would leave them and read the copy with a second connection.
    const copy = makeTempDir();
    try {
      fs.copyFileSync(path.join(dir, 'sipa.db'), path.join(copy, 'sipa.db'));
      fs.copyFileSync(path.join(dir, 'sipa.db-wal'), path.join(copy, 'sipa.db-wal'));
      const row = await rawGet<{ address: string }>(path.join(copy, 'sipa.db'), `SELECT address FROM devices WHERE id = ${d.id}`);
      assert.equal(row.address, '198.51.100.20');
    } finally {
      removeDir(copy);
    }
  });

  it('refuses a second opener while the daemon holds the file', async () => {
    store = (await Store.open({ dataDir: dir })).store;
    await assert.rejects(Store.open({ dataDir: dir }), (err: unknown) => err instanceof StoreError && err.code === 'store_open_failed');
  });

  it('runs concurrent writes one at a time: racing registrations of one address stay one entry', async () => {
    store = (await Store.open({ dataDir: dir })).store;
    const s = store;
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => s.registerDevice(fixedDevice('203.0.113.9', { label: `try ${i}` }), { actor: admin, action: 'register' })),
    );
    assert.equal(new Set(results.map((d) => d.id)).size, 1);
    const active = await activeDevices(s);
    assert.equal(active.length, 1);
    assert.equal(active[0].label, 'try 9');
    assert.equal((await s.listAudit({ limit: 50 })).length, 10);
  });

  it('a transaction failing half-way is rolled back, only its caller sees the error, the queue goes on', async () => {
    store = (await Store.open({ dataDir: dir })).store;
    const s = store;
    const bad = { surface: 'nobody', name: 'x' } as unknown as typeof admin;
    const [a, b, c] = await Promise.allSettled([
      s.registerDevice(fixedDevice('203.0.113.1'), { actor: admin, action: 'register' }),
      // The device row is written, then the audit row is refused: both must go.
      s.registerDevice(fixedDevice('203.0.113.2'), { actor: bad, action: 'register' }),
      s.registerDevice(fixedDevice('203.0.113.3'), { actor: admin, action: 'register' }),
    ]);
    assert.equal(a.status, 'fulfilled');
    assert.equal(c.status, 'fulfilled');
    assert.equal(b.status, 'rejected');
    assert.equal((b as PromiseRejectedResult).reason.code, 'invalid_input');
    assert.deepEqual((await activeDevices(s)).map((d) => d.address), ['203.0.113.1', '203.0.113.3']);
    assert.equal((await s.listAudit()).length, 2);
  });

  for (const failing of [/^\s*INSERT INTO audit/, /^COMMIT$/]) {
    it(`a disk-full failure at ${failing.source} rejects with store_full naming the file, the reason and what to do, and keeps what was stored`, async () => {
      store = (await Store.open({ dataDir: dir })).store;
      const s = store;
      const kept = await s.registerDevice(fixedDevice('203.0.113.10'), { actor: admin, action: 'register' });
      const realRun = sqlite3.Database.prototype.run;
      const stub = sinon.stub(sqlite3.Database.prototype, 'run').callsFake(function (this: sqlite3.Database, sql: string, ...rest: unknown[]) {
        if (failing.test(sql)) {
          const cb = rest[rest.length - 1] as (err: Error) => void;
          setImmediate(() => cb(Object.assign(new Error('SQLITE_FULL: database or disk is full'), { errno: 13, code: 'SQLITE_FULL' })));
          return this;
        }
        return (realRun as (...a: unknown[]) => sqlite3.Database).call(this, sql, ...rest);
      });
      await assert.rejects(
        s.registerDevice(fixedDevice('203.0.113.11'), { actor: admin, action: 'register' }),
        (err: unknown) => {
          assert.ok(err instanceof StoreError);
          assert.equal(err.code, 'store_full');
          assert.equal(err.reason, 'SQLITE_FULL');
          assert.match(err.message, new RegExp(`${path.join(dir, 'sipa.db').replace(/[.]/g, '\\.')}.*partition is full.*free space`));
          return true;
        },
      );
      assert.ok(stub.called);
      stub.restore();
      assert.deepEqual(await activeDevices(s), [kept]);
      assert.equal((await s.listAudit()).length, 1);
      const next = await s.registerDevice(fixedDevice('203.0.113.12'), { actor: admin, action: 'register' });
      assert.equal(next.address, '203.0.113.12');
      await s.close();
      store = (await Store.open({ dataDir: dir })).store;
      assert.deepEqual((await activeDevices(store)).map((d) => d.address), ['203.0.113.10', '203.0.113.12']);
    });
  }

  it('rejects work after close with store_closed', async () => {
    const s = (await Store.open({ dataDir: dir })).store;
    await s.close();
    await assert.rejects(activeDevices(s), (err: unknown) => err instanceof StoreError && err.code === 'store_closed');
  });

  it('refuses a file from a newer build instead of guessing', async () => {
    store = (await Store.open({ dataDir: dir })).store;
    await store.close();
    store = null;
    await new Promise<void>((resolve, reject) => {
      const db = new sqlite3.Database(path.join(dir, 'sipa.db'), (err) => {
        if (err) return reject(err);
        db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`, (e) => db.close(() => (e ? reject(e) : resolve())));
      });
    });
    await assert.rejects(Store.open({ dataDir: dir }), (err: unknown) => err instanceof StoreError && /newer than this build/.test(err.message));
  });
});
