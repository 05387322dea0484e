// Keeps the kernel true to the engine. Two paces: every WATCH_MS a cheap look (the filter tables' digests and
// the sets' headers: no program run, no set listed) that starts a full check at once when anything changed, and
// a full check (every member of every set, the rule text) every `reconcile.intervalSeconds` whatever the look
// says. Also at once when asked (rtnetlink changes, a config reload); never two at a time.
import { Logger } from './log';

export interface Reconcilable {
  /** The full check and repair; returns what was wrong (empty: nothing). */
  reconcile(): Promise<string[]>;
  /** The cheap look: a text that changes when what it watches changes; null when there is nothing to watch. */
  watch?(): string | null;
}

/** A removed chain, jump or set is seen within this, and repaired right after. */
export const WATCH_MS = 250;

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  /** What the look saw just before the last full check that found nothing to repair. */
  private seen: string | null = null;
  private lastFull = -Infinity;
  private watchFailed = false;
  private repairedLast = false;

  constructor(
    private readonly target: Reconcilable,
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly opts: { watchMs?: number; now?: () => number } = {},
  ) {}

  private now(): number {
    return (this.opts.now ?? (() => performance.now()))();
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), Math.min(this.opts.watchMs ?? WATCH_MS, this.intervalMs));
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private look(): string | null {
    try {
      const seen = this.target.watch?.() ?? null;
      this.watchFailed = false;
      return seen;
    } catch (err) {
      if (!this.watchFailed) this.log('warn', 'cannot watch the kernel; relying on the full checks', { error: String(err) });
      this.watchFailed = true;
      return null;
    }
  }

  private tick(): void {
    if (this.running) return;
    if (this.now() - this.lastFull >= this.intervalMs) {
      void this.trigger();
      return;
    }
    const seen = this.look();
    if (seen !== null && seen !== this.seen) void this.trigger();
  }

  /** Runs a full check now (or right after the one in progress). */
  trigger(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.fullCheck();
        } while (this.again);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async fullCheck(): Promise<void> {
    // Looked at before the check: a change made while it runs shows at the next look.
    const before = this.look();
    let repaired = true;
    try {
      repaired = (await this.target.reconcile()).length > 0;
    } catch (err) {
      this.log('error', 'reconcile failed', { error: String(err) });
    }
    this.lastFull = this.now();
    if (!repaired) this.seen = before;
    // After a repair the next look checks again at once, so the repair is verified. A repair that did not hold
    // (or failed) is tried again at the full checks' pace, not at the look's.
    else this.seen = this.repairedLast ? this.look() : null;
    this.repairedLast = repaired;
  }
}
