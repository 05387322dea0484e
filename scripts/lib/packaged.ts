// This checkout laid out as the packages lay out their runtime (scripts/packaging/runtime.sh): bin/sipa is
// qpkg/sipa-launcher.sh, bin/node the Node this process runs on (the shipped one, scripts/node.sh), lib/ the
// loader and the C libraries of the ELF files, app/ this checkout's build. The bench starts the daemon and the
// CLI through it, so that its figures are those of a NAS: the launcher's flags, the bundled loader.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..', '..');
const SYSLIB: Record<string, { dir: string; loader: string; cpu: string }> = {
  x64: { dir: '/lib/x86_64-linux-gnu', loader: 'ld-linux-x86-64.so.2', cpu: 'x86_64' },
  arm64: { dir: '/lib/aarch64-linux-gnu', loader: 'ld-linux-aarch64.so.1', cpu: 'aarch64' },
};

export interface PackagedTree {
  root: string;
  /** bin/sipa, the launcher. */
  sipa: string;
  /** argv that starts this Node as the launcher does, without a script: append -e 0 for the floor. */
  node: string[];
  remove(): void;
}

function elfFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...elfFiles(p));
    else if (e.isFile() && (e.name.endsWith('.node') || e.name.endsWith('.so'))) out.push(p);
  }
  return out;
}

export function stagePackagedTree(): PackagedTree {
  const sys = SYSLIB[process.arch];
  if (!sys) throw new Error(`no packaged layout for ${process.arch}`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-packaged-'));
  for (const d of ['bin', 'lib', `app/native/build/${sys.cpu}`]) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.symlinkSync(fs.realpathSync(process.execPath), path.join(root, 'bin', 'node'));
  fs.symlinkSync(path.join(REPO, 'dist'), path.join(root, 'app', 'dist'));
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'app', 'node_modules'));
  fs.symlinkSync(path.join(REPO, 'native', 'build', sys.cpu, 'libsipa.so'), path.join(root, 'app', 'native', 'build', sys.cpu, 'libsipa.so'));
  const launcher = fs.readFileSync(path.join(REPO, 'qpkg', 'sipa-launcher.sh'), 'utf8').replace(/@LOADER@/g, sys.loader).replace(/@CPU@/g, sys.cpu);
  const sipa = path.join(root, 'bin', 'sipa');
  fs.writeFileSync(sipa, launcher, { mode: 0o755 });
  // The loader and every library the ELF files need, transitively, from the same place the packages take them.
  const want = [sys.loader];
  const queue = [process.execPath, path.join(REPO, 'native', 'build', sys.cpu, 'libsipa.so'), ...elfFiles(path.join(REPO, 'node_modules'))];
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    let dyn: string;
    try {
      dyn = execFileSync('readelf', ['-dW', f], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      continue; // another CPU's prebuild, or not an ELF file
    }
    for (const m of dyn.matchAll(/\(NEEDED\).*\[(.+)\]/g)) {
      if (!want.includes(m[1]) && fs.existsSync(path.join(sys.dir, m[1]))) {
        want.push(m[1]);
        queue.push(path.join(sys.dir, m[1]));
      }
    }
  }
  for (const lib of want) fs.symlinkSync(fs.realpathSync(path.join(sys.dir, lib)), path.join(root, 'lib', lib));
  return {
    root,
    sipa,
    node: [path.join(root, 'lib', sys.loader), '--inhibit-cache', '--library-path', path.join(root, 'lib'), path.join(root, 'bin', 'node')],
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}
