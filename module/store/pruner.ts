import { CronJob } from 'cron';
import type { Config } from '../config';
import type { Store } from './store';

const DAY_MS = 24 * 60 * 60 * 1000;
/** The store's share of its 1 MiB flash budget: the rest is for the WAL (test/store/flash-budget.test.ts). */
export const MAX_DB_BYTES = 896 * 1024;

export interface PrunerOptions {
  store: Pick<Store, 'prune'>;
  /** The config's prune section: when (a cron expression with seconds) and how much is kept (defaults: the schema). */
  limits: Config['prune'];
  /** Pages in use above this make the oldest audit rows go too. */
  maxDbBytes?: number;
  now?: () => number;
  /** Told after each scheduled run, including runs that deleted nothing. */
  onPruned?: (result: PruneResult) => void;
  /** A failed scheduled run is reported here; the schedule continues. */
  onError?: (err: unknown) => void;
}

export interface PruneResult {
  devices: number;
  audit: number;
}

/** The daily clean-up that keeps sipa.db inside its flash budget. */
export class Pruner {
  private job: CronJob | null = null;

  constructor(private readonly opts: PrunerOptions) {}

  start(): void {
    if (this.job) return;
    this.job = CronJob.from({
      cronTime: this.opts.limits.schedule,
      onTick: async () => {
        try {
          const result = await this.pruneNow();
          this.opts.onPruned?.(result);
        } catch (err) {
          this.opts.onError?.(err);
        }
      },
      start: true,
      waitForCompletion: true,
      // The job must not keep a stopping daemon (or a test run) alive.
      unrefTimeout: true,
    });
  }

  async stop(): Promise<void> {
    const job = this.job;
    this.job = null;
    await job?.stop();
  }

  pruneNow(): Promise<PruneResult> {
    const now = (this.opts.now ?? Date.now)();
    const { endedDeviceDays, auditMaxDays, auditMaxRows } = this.opts.limits;
    return this.opts.store.prune({
      endedBefore: Math.max(0, now - endedDeviceDays * DAY_MS),
      auditBefore: Math.max(0, now - auditMaxDays * DAY_MS),
      auditMaxRows,
      maxDbBytes: this.opts.maxDbBytes ?? MAX_DB_BYTES,
    });
  }
}
