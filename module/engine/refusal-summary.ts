// Refusals for the NAS's event log, summarised: the first one after a quiet spell is sent at once (an admin
// sees it), the rest are counted and sent as one line at the end of the window, so a flood costs one line per
// window however many requests it makes.
import type { SystemLog, SystemLogLevel } from './system-log';

export const SUMMARY_WINDOW_MS = 5 * 60 * 1000;

export interface RefusalSummaryOptions {
  /** What is refused, plural, e.g. "QTS session checks". */
  what: string;
  level?: SystemLogLevel;
  windowMs?: number;
}

export class RefusalSummary {
  private counts = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly systemLog: SystemLog, private readonly opts: RefusalSummaryOptions) {}

  /** One refusal; `reason` groups the counts ("rate-limited"), `detail` is shown for the first one only. */
  add(reason: string, detail?: string): void {
    if (this.timer === null) {
      this.systemLog(this.opts.level ?? 'warn', `refused ${this.opts.what}: ${reason}${detail ? ` (${detail})` : ''}; further refusals are summarised every ${this.windowMinutes()} minutes`);
      this.startWindow();
      return;
    }
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }

  private windowMinutes(): number {
    return Math.round((this.opts.windowMs ?? SUMMARY_WINDOW_MS) / 60_000);
  }

  private startWindow(): void {
    this.timer = setTimeout(() => this.flush(), this.opts.windowMs ?? SUMMARY_WINDOW_MS);
    this.timer.unref();
  }

  /** Sends the window's line if anything was counted; a quiet window ends the summary (the next is sent at once). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    if (total === 0) return;
    const parts = [...this.counts.entries()].sort((a, b) => b[1] - a[1]).map(([r, n]) => `${n} ${r}`);
    this.counts = new Map();
    this.systemLog(this.opts.level ?? 'warn', `refused ${total} more ${this.opts.what} in the last ${this.windowMinutes()} minutes: ${parts.join(', ')}`);
    this.startWindow();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
