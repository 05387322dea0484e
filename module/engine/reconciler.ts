// Keeps the kernel true to the engine: a check every few seconds and at once when asked (rtnetlink changes),
// never two at a time.
import { Logger } from './log';

export interface Reconcilable {
  reconcile(): Promise<string[]>;
}

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly target: Reconcilable,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.trigger(), this.intervalMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Runs a check now (or right after the one in progress). */
  trigger(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.target.reconcile();
        } while (this.again);
      } catch (err) {
        this.log('error', 'reconcile failed', { error: String(err) });
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }
}
