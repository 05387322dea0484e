// Repeating events for the NAS's event log, summarised: the first one after a quiet spell is sent at once (an
// admin sees it), the rest are counted and sent as one line at the end of the window, so a flood costs one
// line per window however many requests it makes.
import type { SystemLog, SystemLogLevel } from './system-log';

export const SUMMARY_WINDOW_MS = 5 * 60 * 1000;

export interface EventSummaryOptions {
  level: SystemLogLevel;
  /** The line for the first event after a quiet spell. */
  first: (kind: string, detail: string | undefined) => string;
  /** The line at the end of a window: how many more, by kind ("12 rate-limited, 3 not signed in"). */
  more: (total: number, byKind: string, minutes: number) => string;
  windowMs?: number;
}

export class EventSummary {
  private counts = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly systemLog: SystemLog, private readonly opts: EventSummaryOptions) {}

  private get windowMs(): number {
    return this.opts.windowMs ?? SUMMARY_WINDOW_MS;
  }

  add(kind: string, detail?: string): void {
    if (this.timer === null) {
      this.systemLog(this.opts.level, this.opts.first(kind, detail));
      this.startWindow();
      return;
    }
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }

  private startWindow(): void {
    this.timer = setTimeout(() => this.flush(), this.windowMs);
    this.timer.unref();
  }

  /** Sends the window's line if anything was counted; a quiet window ends the summary (the next is sent at once). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    if (total === 0) return;
    const byKind = [...this.counts.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`).join(', ');
    this.counts = new Map();
    this.systemLog(this.opts.level, this.opts.more(total, byKind, Math.round(this.windowMs / 60_000)));
    this.startWindow();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
