import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Actor, Device } from '../../module/domain';
import { Store, type DeviceFields } from '../../module/store';
import { checkConfig, type Config } from '../../module/config';

export const admin: Actor = { surface: 'cli', name: 'admin' };
export const portalUser: Actor = { surface: 'portal', name: 'owner@example.com' };

/** The prune limits of a config that sets none: the schema's defaults, with `over` on top. */
export function pruneLimits(over: Partial<Config['prune']> = {}): Config['prune'] {
  return { ...checkConfig({ dataDir: '/unused', firewall: { lan: [], extraLan: [] } }).prune, ...over };
}

export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-store-'));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A real store in a fresh temporary folder; `dispose` closes it and removes the folder. */
export interface TempStore {
  dir: string;
  store: Store;
  dispose(): Promise<void>;
}

export async function tempStore(opts: { now?: () => number } = {}): Promise<TempStore> {
  const dir = makeTempDir();
  try {
    const { store } = await Store.open({ dataDir: dir, now: opts.now });
    return {
      dir, store,
      async dispose() {
        try {
          await store.close();
        } finally {
          removeDir(dir);
        }
      },
    };
  } catch (err) {
    removeDir(dir);
    throw err;
  }
}

export function fixedDevice(address: string, over: Partial<DeviceFields> = {}): DeviceFields {
  return {
    address,
    family: address.includes(':') ? 6 : 4,
    prefix: address.includes(':') ? 128 : 32,
    label: 'laptop',
    qnapId: null,
    source: 'local',
    policy: 'fixed',
    sessionId: null,
    expiresAt: Date.now() + 3_600_000,
    ...over,
  };
}

export function sessionDevice(address: string, sessionId: string, over: Partial<DeviceFields> = {}): DeviceFields {
  return fixedDevice(address, { source: 'portal', policy: 'session', sessionId, qnapId: 'owner@example.com', ...over });
}

/** name → "size:mtime" of every file in the dir; equal snapshots mean nothing was written. */
export function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    const st = fs.statSync(path.join(dir, name));
    out[name] = `${st.size}:${st.mtimeMs}`;
  }
  return out;
}

/**
 * Bytes this process has sent towards storage so far (write_bytes: file pages it dirtied), unlike wchar not
 * counting the runtime's own wake-up writes to eventfds and pipes, which come and go with garbage collection.
 */
export function storageBytes(): number {
  const m = /^write_bytes:\s*(\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'));
  if (!m) throw new Error('no write_bytes in /proc/self/io');
  return Number(m[1]);
}

/** Bytes this process has passed to write(2) so far (sqlite3's worker threads included). */
export function writtenBytes(): number {
  const m = /^wchar:\s*(\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'));
  if (!m) throw new Error('no wchar in /proc/self/io');
  return Number(m[1]);
}

export { sleep } from '../../scripts/lib/wait';

/** Every active device, read the way the daemon reads them at start (a page at a time). */
export async function activeDevices(store: Store): Promise<Device[]> {
  const all: Device[] = [];
  for await (const page of store.activeDevicesInPages()) all.push(...page.devices);
  return all;
}

/** Bytes on disk now: the store's file and its WAL. */
export function storeFileBytes(dir: string): { db: number; wal: number; total: number } {
  const size = (f: string): number => (fs.existsSync(f) ? fs.statSync(f).size : 0);
  const db = size(path.join(dir, 'sipa.db'));
  const wal = size(path.join(dir, 'sipa.db-wal'));
  return { db, wal, total: db + wal };
}
