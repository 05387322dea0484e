// Where things are: the package root (for version and schemas), the default config file, the socket.
import fs from 'node:fs';
import path from 'node:path';
import { SOCKET_NAME } from '../config/socket';

/** dist/module/cli → the package (or repository) root. */
export const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

export function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** The compiled files carry the build's time (reproducible builds set it to the source's date). */
export function buildTimeMs(): number {
  try {
    return fs.statSync(__filename).mtimeMs;
  } catch {
    return 0;
  }
}

/** --config, else $SIPA_CONFIG, else the QPKG's config, else the firmware image's. */
export function defaultConfigPath(): string {
  if (process.env.SIPA_CONFIG) return process.env.SIPA_CONFIG;
  const candidates = [path.join(PACKAGE_ROOT, '..', 'etc', 'sipa.json'), '/etc/config/sipa.json', '/usr/local/sipa/etc/sipa.json'];
  return candidates.find(c => fs.existsSync(c)) ?? candidates[1];
}

export const socketPath = (runDir: string) => path.join(runDir, SOCKET_NAME);
export const pidPath = (runDir: string) => path.join(runDir, 'sipa.pid');
