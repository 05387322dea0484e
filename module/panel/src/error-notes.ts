// Failed actions on screen: what failed, why and what to do, until dismissed or until the same thing is tried again.
import type { ApiFailure } from './api';
import { h } from './dom';
import { sentence } from './format';

export class ErrorNotes {
  readonly el = h('div', { class: 'notices' });
  /** By what was tried; a later attempt at the same thing replaces its notice. */
  private readonly notes = new Map<string, HTMLElement>();

  /** `dismissed` runs once a notice is dismissed: the keyboard needs somewhere to go. */
  constructor(private readonly dismissed: () => void) {}

  show(key: string, what: string, f: ApiFailure): void {
    const advice = f.signedOut ? ' Sign in to QTS again, then try once more.'
      : f.unreachable ? ' Whether it took effect shows once the service answers again; then try once more if needed.'
        : f.status === 503 ? ' Try again; if it keeps failing, run "sipa doctor" on the NAS.'
          : f.status === 507 ? ' Free space on the NAS data partition.'
            : '';
    const text = `${what} failed. ${sentence(f.message)}${advice}`;
    const note = h('div', { class: 'notice error', role: 'alert', 'data-error': key },
      h('span', { text }),
      h('button', { class: 'btn small', type: 'button', text: 'Dismiss', 'aria-label': `Dismiss: ${what} failed`, onclick: () => {
        this.clear(key);
        this.dismissed();
      } }));
    this.notes.get(key)?.remove();
    this.notes.set(key, note);
    this.el.append(note);
  }

  clear(key: string): void {
    this.notes.get(key)?.remove();
    this.notes.delete(key);
  }

  /** The first notice's button, if a notice is shown. */
  firstButton(): HTMLElement | null {
    return this.el.querySelector<HTMLElement>('button');
  }
}
