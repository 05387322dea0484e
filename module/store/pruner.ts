import { CronJob } from 'cron';
import type { Store } from './store';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface PrunerOptions {
  store: Pick<Store, 'prune'>;
  /** Cron expression (with seconds); default 03:17:00 daily, off the hour most other jobs pick. */
  schedule?: string;
  /** Ended devices are kept this many days after they ended. */
  endedDeviceDays?: number;
  /** Audit rows are kept at most this many days… */
  auditMaxDays?: number;
  /** …and at most this many rows (the budget test sizes the file with 10,000). */
  auditMaxRows?: number;
  /** Pages in use above this make the oldest audit rows go too; default leaves 128 KiB of the 1 MiB for the WAL. */
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
      cronTime: this.opts.schedule ?? '0 17 3 * * *',
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
    return this.opts.store.prune({
      endedBefore: Math.max(0, now - (this.opts.endedDeviceDays ?? 30) * DAY_MS),
      auditBefore: Math.max(0, now - (this.opts.auditMaxDays ?? 365) * DAY_MS),
      auditMaxRows: this.opts.auditMaxRows ?? 10_000,
      maxDbBytes: this.opts.maxDbBytes ?? 896 * 1024,
    });
  }
}
