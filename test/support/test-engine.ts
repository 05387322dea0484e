// The engine the tests of every surface drive (the API and panel, the portal link, the engine's own rules): the
// real Engine on a real SQLite store in a temporary folder, over a stub kernel (stub-kernel.ts). What a surface
// asked of the engine is recorded (calls); what the engine asked of the kernel is in the kernel's stubs. A test
// that needs a fault stubs the engine's own method with sinon.
import type sinon from 'sinon';
import { checkConfig, type Config } from '../../module/config';
import { Engine, silentLogger, type Logger, type Status } from '../../module/engine';
import type { Enforcement } from '../../module/kernel';
import { SwitchFile, type Recovered, type Store } from '../../module/store';
import { tempStore } from '../store/helpers';
import { stubKernel } from './stub-kernel';

/** The engine's methods that change something; reads (list, status, audit) are not recorded. */
const CHANGES = ['enable', 'disable', 'register', 'registerMany', 'revoke', 'revokeMany', 'addAddress', 'endSession', 'renewSession'] as const;
export type Change = typeof CHANGES[number];
export interface Call { method: Change; args: unknown[] }

/** The changes asked of the engine, in the order they were asked. */
export class EngineCalls {
  private log: Call[] = [];

  /** Records each change before the engine's own method runs; sinon can still stub the method over it. */
  watch(engine: Engine): void {
    const methods = engine as unknown as Record<Change, (...args: unknown[]) => unknown>;
    for (const method of CHANGES) {
      const own = methods[method];
      methods[method] = (...args: unknown[]) => {
        this.log.push({ method, args });
        return own.apply(engine, args);
      };
    }
  }

  changes(): Call[] {
    return [...this.log];
  }

  /** The arguments of each call of one method. */
  of(method: Change): unknown[][] {
    return this.log.filter(c => c.method === method).map(c => c.args);
  }

  forget(): void {
    this.log = [];
  }
}

export interface TestEngineOptions {
  /** Settings as the daemon's config file gives them, on top of the store's folder and no LAN. */
  config?: Record<string, unknown>;
  /** Kernel calls that do something else than take everything (stubKernel). */
  kernel?: Partial<Record<keyof Enforcement, sinon.SinonStub>>;
  portalStatus?: () => Status['portal'];
  /** The wall clock of the store and the engine, and the engine's monotonic one; default the process's, read at each call (fake timers apply). */
  now?: () => number;
  mono?: () => number;
  buildTimeMs?: number;
  log?: Logger;
  /** false: the engine is made but not started (the test starts it, e.g. with a recovered store). */
  start?: boolean;
}

export interface TestEngine {
  /** The engine running now (restart replaces it). */
  engine: Engine;
  store: Store;
  kernel: ReturnType<typeof stubKernel>;
  /** The temporary folder: the store, the on/off switch file, and whatever else a test puts there. */
  dir: string;
  config: Config;
  calls: EngineCalls;
  /** Stops the engine and starts another on the same store, switch and kernel, as a daemon restart does. */
  restart(over?: Pick<TestEngineOptions, 'config' | 'buildTimeMs'> & { recovered?: Recovered }): Promise<Engine>;
  /** Stops the engine, closes the store and removes the folder. */
  dispose(): Promise<void>;
}

export async function testEngine(opts: TestEngineOptions = {}): Promise<TestEngine> {
  const now = opts.now ?? (() => Date.now());
  const mono = opts.mono ?? (() => performance.now());
  const temp = await tempStore({ now });
  const kernel = stubKernel(opts.kernel);
  const calls = new EngineCalls();
  const make = (o: TestEngineOptions): Engine => {
    h.config = checkConfig({ dataDir: temp.dir, ...o.config, firewall: { lan: [], ...(o.config?.firewall as object | undefined) } });
    const engine = new Engine({
      store: temp.store, kernel, config: h.config, switch: new SwitchFile(temp.dir), log: o.log ?? silentLogger, version: 'test',
      buildTimeMs: o.buildTimeMs ?? 0, portalStatus: o.portalStatus, now, mono,
    });
    calls.watch(engine);
    return engine;
  };
  const h: TestEngine = {
    engine: undefined as unknown as Engine,
    store: temp.store,
    kernel,
    dir: temp.dir,
    config: undefined as unknown as Config,
    calls,
    async restart(over = {}) {
      await h.engine.stop();
      h.engine = make({ ...opts, ...over });
      await h.engine.start(over.recovered ?? null);
      return h.engine;
    },
    async dispose() {
      try {
        await h.engine.stop();
      } finally {
        await temp.dispose();
      }
    },
  };
  try {
    h.engine = make(opts);
    if (opts.start !== false) await h.engine.start();
  } catch (err) {
    await temp.dispose();
    throw err;
  }
  return h;
}
