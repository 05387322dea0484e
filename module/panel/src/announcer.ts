// What a screen reader hears of what the page does by itself: one polite live region.
import { h } from './dom';

export class Announcer {
  readonly el = h('div', { class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true' });
  private waiting: string[] = [];
  private timer = 0;

  /** A live change to the list; those that come in a burst are told as one sentence. */
  queue(text: string): void {
    this.waiting.push(text);
    if (this.timer) return;
    this.timer = window.setTimeout(() => {
      this.timer = 0;
      const q = this.waiting;
      this.waiting = [];
      this.say(q.length === 1 ? q[0] : `${q.length} changes to the trusted list. The latest: ${q[q.length - 1]}`);
    }, 400);
  }

  say(text: string): void {
    // Clearing first makes a repeated sentence be read again.
    this.el.textContent = '';
    window.setTimeout(() => { this.el.textContent = text; }, 50);
  }
}
