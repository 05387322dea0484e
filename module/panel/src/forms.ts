// Parts of the panel's forms: the duration picker (the CLI's own duration syntax under "Other…") and the
// service's validation messages shown at the field they are about.
import type { ApiFailure, Period } from './api';
import { field } from './dialog';
import { h } from './dom';
import { sentence } from './format';
import { DurationError, parseDuration } from '../../domain';

export const DURATIONS: Array<[string, number]> = [['1 minute', 60], ['5 minutes', 300], ['15 minutes', 900], ['30 minutes', 1800], ['1 hour', 3600], ['2 hours', 7200], ['4 hours', 14400], ['8 hours', 28800], ['12 hours', 43200]];

export interface FieldTarget {
  setError(m: string | null): void;
  focus(): void;
}

export interface DurationField extends FieldTarget {
  wrap: HTMLElement;
  /** The chosen period, or null (its error then shows at the field). */
  period(): Period | null;
}

/** "Until revoked" is offered only where the service's policy allows it (Status.allowUntilRevoked). */
export function durationField(initial: Period = 3600, untilRevoked = false): DurationField {
  const sel = h('select', {}, ...DURATIONS.map(([label, s]) => h('option', { value: String(s), text: label, selected: s === initial })),
    untilRevoked ? h('option', { value: 'until-revoked', text: 'Until revoked', selected: initial === 'until-revoked' }) : null,
    h('option', { value: 'other', text: 'Other…' }));
  const other = h('input', { type: 'text', autocomplete: 'off', placeholder: 'e.g. 90m or 1h30m', spellcheck: 'false' });
  const f1 = field('For', sel);
  const f2 = field('Duration', other, 'As on the CLI: 90s, 15m, 2h, 1h30m.');
  f2.wrap.hidden = true;
  sel.addEventListener('change', () => {
    f2.wrap.hidden = sel.value !== 'other';
    if (!f2.wrap.hidden) other.focus();
  });
  return {
    wrap: h('div', {}, f1.wrap, f2.wrap),
    period: () => {
      if (sel.value === 'until-revoked') return 'until-revoked';
      if (sel.value !== 'other') return Number(sel.value);
      try {
        f2.setError(null);
        return parseDuration(other.value.trim());
      } catch (e) {
        f2.setError(sentence(e instanceof DurationError ? e.message : String(e)));
        other.focus();
        return null;
      }
    },
    focus: () => (sel.value === 'other' ? other : sel).focus(),
    setError: m => (sel.value === 'other' ? f2 : f1).setError(m),
  };
}

/** Shows the service's own words (those the CLI prints) next to the field they are about, else above the form. */
export function fieldError(f: ApiFailure, fields: Record<string, FieldTarget>, general: HTMLElement): void {
  const name = (f.field ?? '').split('.')[0];
  const target = fields[name] ?? (name === 'expiry' || name === 'seconds' ? fields.expiry : undefined);
  general.hidden = !!target;
  general.textContent = target ? '' : sentence(f.message);
  if (target) {
    target.setError(sentence(f.message));
    target.focus();
  }
}
