import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { PortalConfig } from '../../module/engine/config';
import type { Log } from '../../module/cloud';

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-cloud-'));
}

export function portalConfig(over: Partial<PortalConfig> = {}): PortalConfig {
  return {
    url: null, skewSeconds: 120, leaseGraceSeconds: 120, heartbeatSeconds: 25,
    reconnectMinSeconds: 1, reconnectMaxSeconds: 300, requestTimeoutSeconds: 15, insecureHttp: false, nasName: 'test-nas', ...over,
  };
}

export const quietLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until fn() is truthy (or throws the last failure after timeoutMs). */
export async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export const VECTORS = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'cloud', 'vectors.json'), 'utf8')) as {
  portal: { privateKey: string; publicKey: string };
  nas: { privateKey: string; publicKey: string };
  envelope: Record<string, unknown> & { body: Record<string, unknown> };
  canonical: string;
};
