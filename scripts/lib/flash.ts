// A small "flash partition" for tests: a tmpfs of a given size mounted in a private mount namespace that a
// holder process keeps alive, so the host's mounts are never touched and the data survives daemon restarts.
// The daemon runs inside it (`wrap`); the test fills and frees it with `fill()` / `free()`.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';

export interface SmallFlash {
  /** The mount point (also the daemon's dataDir). */
  dir: string;
  /** Command prefix that runs a program inside the mount namespace. */
  wrap: string[];
  /** Fills the partition until the kernel says ENOSPC; returns the bytes written. */
  fill(): number;
  /** Removes what fill() wrote. */
  free(): void;
  /** Bytes still free. */
  available(): number;
  /** Runs a program inside the mount namespace. */
  run(program: string, args: string[]): string;
  destroy(): void;
}

export function makeSmallFlash(dir: string, sizeKiB: number): SmallFlash {
  fs.mkdirSync(dir, { recursive: true });
  const holder: ChildProcess = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', 'infinity'], { stdio: 'ignore' });
  const pid = holder.pid!;
  const wrap = ['nsenter', '-t', String(pid), '-m', '--'];
  const run = (program: string, args: string[]): string =>
    execFileSync(wrap[0], [...wrap.slice(1), program, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // The holder needs a moment to have unshared; until then nsenter would join the host's mount namespace.
  const hostMnt = fs.readlinkSync('/proc/self/ns/mnt');
  for (let i = 0; i < 200; i++) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/ns/mnt`) !== hostMnt) break;
    } catch { /* not started yet */ }
    execFileSync('sleep', ['0.01']);
  }
  if (fs.readlinkSync(`/proc/${pid}/ns/mnt`) === hostMnt) {
    holder.kill('SIGKILL');
    throw new Error('unshare --mount did not take effect');
  }
  run('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'sipa-flash', dir]);
  const fillFile = `${dir}/zz-fill`;
  return {
    dir,
    wrap,
    run,
    fill() {
      try {
        run('dd', ['if=/dev/zero', `of=${fillFile}`, 'bs=1024', 'status=none']);
      } catch { /* ENOSPC is the point */ }
      return Number(run('stat', ['-c', '%s', fillFile]).trim());
    },
    free() {
      run('rm', ['-f', fillFile]);
    },
    available() {
      return Number(run('df', ['--output=avail', '-B1', dir]).split('\n')[1].trim());
    },
    destroy() {
      holder.kill('SIGKILL');
    },
  };
}
