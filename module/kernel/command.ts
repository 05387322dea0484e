// Runs the firewall tools without a shell: fixed program names, arguments as an array, text on stdin.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export type CommandRunner = (program: string, args: readonly string[], input?: string) => Promise<CommandResult>;

/** A runner that executes programs inside the named network namespace when one is given. */
export function commandRunner(netns?: string | null, timeoutMs = 15_000): CommandRunner {
  return (program, args, input) => {
    const [file, argv] = netns ? ['ip', ['netns', 'exec', netns, program, ...args]] : [program, [...args]];
    return new Promise((resolve) => {
      const child = execFile(file, argv, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err && code !== 0 ? err.message : '') });
      });
      if (input !== undefined) child.stdin?.end(input);
    });
  };
}

const SEARCH = ['/usr/sbin', '/sbin', '/usr/bin', '/bin', '/usr/local/sbin'];

/** Finds a program on PATH or in the usual system folders; null if absent. */
export function findProgram(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SEARCH];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}
