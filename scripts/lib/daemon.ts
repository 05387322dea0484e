// Runs the real daemon (dist/module/cli/main.js) against a topology's NAS namespace, and the real CLI (tests, demo).
import { ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const MAIN = path.resolve(__dirname, '..', '..', 'module', 'cli', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestDaemon {
  dir: string;
  configPath: string;
  config: Record<string, unknown>;
  process: ChildProcess | null;
  log: string[];
  sipa(...args: string[]): Promise<CliResult>;
  sipaJson<T>(...args: string[]): Promise<T>;
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  destroy(): Promise<void>;
}

/** `launcher`: a packaged bin/sipa (scripts/lib/packaged.ts) instead of this Node with main.js. */
export function cli(configPath: string, args: string[], launcher?: string): Promise<CliResult> {
  const argv = launcher ? [launcher, ...args, '--config', configPath] : [process.execPath, MAIN, ...args, '--config', configPath];
  return new Promise(resolve => {
    execFile(argv[0], argv.slice(1), { timeout: 20_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/**
 * `launch`: Node flags and environment for the daemon process, a command prefix to run it under (e.g. nsenter
 * into a mount namespace with a small flash partition), or a packaged bin/sipa to run daemon and CLI with.
 */
export function makeDaemon(netns: string, overrides: Record<string, unknown> = {}, launch: { nodeArgs?: string[]; env?: NodeJS.ProcessEnv; wrap?: string[]; launcher?: string } = {}): TestDaemon {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-daemon-'));
  const config = {
    dataDir: path.join(dir, 'data'),
    runDir: path.join(dir, 'run'),
    netns,
    policy: { minSeconds: 1 },
    reconcile: { intervalSeconds: 1 },
    api: { http: { enabled: false } },
    ...overrides,
  };
  const configPath = path.join(dir, 'sipa.json');
  fs.writeFileSync(configPath, JSON.stringify(config, null, 2));
  const d: TestDaemon = {
    dir,
    configPath,
    config,
    process: null,
    log: [],
    sipa: (...args) => cli(configPath, args, launch.launcher),
    async sipaJson<T>(...args: string[]) {
      const r = await cli(configPath, [...args, '--json'], launch.launcher);
      if (r.code !== 0) throw new Error(`sipa ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    },
    async start() {
      const argv = [...(launch.wrap ?? []), ...(launch.launcher ? [launch.launcher] : [process.execPath, ...(launch.nodeArgs ?? []), MAIN]), 'daemon', '--config', configPath];
      const child = spawn(argv[0], argv.slice(1), {
        stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...launch.env },
      });
      d.process = child;
      const collect = (b: Buffer) => d.log.push(...b.toString().split('\n').filter(Boolean));
      child.stdout!.on('data', collect);
      await new Promise<void>((resolve, reject) => {
        const onData = (b: Buffer) => {
          if (b.toString().includes('"daemon ready"')) {
            child.stderr!.off('data', onData);
            resolve();
          }
        };
        child.stderr!.on('data', collect);
        child.stderr!.on('data', onData);
        child.once('exit', code => reject(new Error(`daemon exited with ${code} before it was ready:\n${d.log.join('\n')}`)));
      });
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const child = d.process;
      if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
      const exited = new Promise<number | null>(r => child.once('exit', code => r(code)));
      child.kill(signal);
      const code = await exited;
      d.process = null;
      return code;
    },
    async destroy() {
      await d.stop('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return d;
}
