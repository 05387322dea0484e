import fs from 'node:fs';
import path from 'node:path';
import type { PortalConfig } from '../../module/config';
import type { Log } from '../../module/cloud';

export function portalConfig(over: Partial<PortalConfig> = {}): PortalConfig {
  return {
    url: null, skewSeconds: 120, leaseGraceSeconds: 120, heartbeatSeconds: 25,
    reconnectMinSeconds: 1, reconnectMaxSeconds: 300, requestTimeoutSeconds: 15, insecureHttp: false, nasName: 'test-nas', ...over,
  };
}

export const quietLog: Log = { debug() {}, info() {}, warn() {}, error() {} };

export { sleep, until } from '../../scripts/lib/wait';

export const VECTORS = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'test', 'cloud', 'vectors.json'), 'utf8')) as {
  portal: { privateKey: string; publicKey: string };
  nas: { privateKey: string; publicKey: string };
  envelope: Record<string, unknown> & { body: Record<string, unknown> };
  canonical: string;
};
