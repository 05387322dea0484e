// `sipa selftest`: loads every native part of this build and opens a scratch store. Touches no kernel state,
// so it can run anywhere the package is unpacked (also under qemu-user, which passes no netfilter netlink).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadNative } from '../kernel';
import { Store } from '../store';
import { packageVersion } from './paths';

interface Check {
  part: string;
  ok: boolean;
  detail: string;
}

export async function selftest(json: boolean): Promise<number> {
  const checks: Check[] = [];
  const run = async (part: string, fn: () => Promise<string> | string) => {
    try {
      checks.push({ part, ok: true, detail: await fn() });
    } catch (e) {
      checks.push({ part, ok: false, detail: (e as Error).message });
    }
  };
  await run('node', () => `${process.version} ${process.arch}`);
  await run('koffi', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const koffi = require('koffi') as { version?: string };
    return `loaded${koffi.version ? ` ${koffi.version}` : ''}`;
  });
  await run('native helper', () => {
    const lib = loadNative();
    return `${lib.path}: ${lib.strerror(4103)}`;
  });
  await run('netlink', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nl = require('netlink') as { createRtNetlink: unknown };
    if (typeof nl.createRtNetlink !== 'function') throw new Error('netlink has no createRtNetlink');
    return 'loaded';
  });
  await run('sqlite3 store', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-selftest-'));
    try {
      const { store } = await Store.open({ dataDir: dir });
      const info = await store.storageInfo();
      await store.close();
      return `journal ${info.journalMode}, schema ${info.schemaVersion}`;
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  const ok = checks.every(c => c.ok);
  if (json) process.stdout.write(`${JSON.stringify({ ok, version: packageVersion(), checks }, null, 2)}\n`);
  else {
    for (const c of checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.part}: ${c.detail}\n`);
    process.stdout.write(ok ? `selftest passed (sipa ${packageVersion()})\n` : 'selftest FAILED\n');
  }
  return ok ? 0 : 1;
}
