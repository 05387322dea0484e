// Modal dialogs (<dialog>, Escape and Cancel resolve with '') and form fields whose errors are tied to them.
import { h } from './dom';

let uid = 0;
export const nextId = (prefix: string) => `${prefix}${++uid}`;

export interface Field {
  wrap: HTMLElement;
  input: HTMLInputElement | HTMLSelectElement;
  setError(message: string | null): void;
}

/** A labelled input with an optional hint; its error is announced and named by aria-describedby. */
export function field(label: string, input: HTMLInputElement | HTMLSelectElement, hint?: string): Field {
  const id = input.id || nextId('f');
  input.id = id;
  const hintEl = hint ? h('div', { class: 'hint', id: `${id}-hint`, text: hint }) : null;
  const err = h('div', { class: 'field-error', id: `${id}-err`, role: 'alert', hidden: true });
  const describe = () => input.setAttribute('aria-describedby', [hintEl?.id, err.hidden ? null : err.id].filter(Boolean).join(' '));
  describe();
  const wrap = h('div', { class: 'form-row' }, h('label', { for: id, text: label }), input, hintEl, err);
  return {
    wrap,
    input,
    setError(message) {
      err.textContent = message ?? '';
      err.hidden = !message;
      if (message) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
      describe();
    },
  };
}

export interface DialogAction {
  label: string;
  value: string;
  kind?: 'primary' | 'danger';
}

export interface DialogOptions {
  role: 'dialog' | 'alertdialog';
  title: string;
  body: HTMLElement[];
  actions: DialogAction[];
  /** The button index (or an element of the body) that has focus when the dialog opens. */
  initial: number | HTMLElement;
  /**
   * Runs for a chosen action other than Cancel; the dialog stays open (buttons busy) until it settles. It
   * returns false to keep the dialog open (it showed what is wrong), anything else closes it.
   */
  submit?: (value: string) => Promise<boolean | void>;
  /** Where focus goes once the dialog is gone; by default back to what opened it. */
  restore: (value: string) => void;
}

/** Opens a modal dialog inside `host`; resolves with the chosen action's value ('' for Cancel or Escape). */
export function openDialog(host: HTMLElement, o: DialogOptions): Promise<string> {
  const n = nextId('dlg');
  const dlg = h('dialog', { role: o.role, 'aria-modal': 'true', 'aria-labelledby': `${n}-t`, 'aria-describedby': `${n}-b`, class: 'dialog' });
  let busy = false;
  const buttons = o.actions.map(a => h('button', { type: 'button', class: `btn ${a.kind ?? ''}`, value: a.value, text: a.label, onclick: () => void choose(a.value) }));
  const form = h('form', { method: 'dialog', novalidate: true, onsubmit: (e: Event) => {
    e.preventDefault();
    const main = o.actions.find(a => a.kind) ?? o.actions[o.actions.length - 1];
    void choose(main.value);
  } },
  h('h2', { id: `${n}-t`, text: o.title }),
  h('div', { id: `${n}-b`, class: 'dialog-body' }, ...o.body),
  h('div', { class: 'dialog-actions' }, ...buttons));
  dlg.append(form);
  let resolve!: (v: string) => void;
  const done = new Promise<string>(r => { resolve = r; });
  const finish = (v: string) => {
    if (!dlg.open) return;
    dlg.close();
    dlg.remove();
    resolve(v);
    o.restore(v);
  };
  const choose = async (v: string) => {
    if (busy) return;
    if (!v || !o.submit) return finish(v);
    busy = true;
    dlg.setAttribute('aria-busy', 'true');
    for (const b of buttons) b.setAttribute('aria-disabled', 'true');
    let close: boolean | void;
    try {
      close = await o.submit(v);
    } finally {
      busy = false;
      dlg.removeAttribute('aria-busy');
      for (const b of buttons) b.removeAttribute('aria-disabled');
    }
    if (close !== false) finish(v);
  };
  dlg.addEventListener('cancel', e => { e.preventDefault(); if (!busy) finish(''); });
  dlg.addEventListener('keydown', e => { if (e.key === 'Escape') { e.preventDefault(); if (!busy) finish(''); } });
  host.append(dlg);
  dlg.showModal();
  (typeof o.initial === 'number' ? buttons[o.initial] : o.initial).focus();
  return done;
}

/** A dialog of the panel: `restore` is optional, focus goes back by itself (see dialogsIn). */
export interface PanelDialog extends Omit<DialogOptions, 'restore'> {
  /** What opened it; by default what has focus. */
  opener?: HTMLElement;
  restore?: (value: string) => void;
  /** The data-key of what takes the opener's place when the opener is gone. */
  fallbackKey?: string;
}

export type OpenDialog = (o: PanelDialog) => Promise<string>;

/**
 * Dialogs inside `host` (in `root`): focus goes back to what opened one, or to what took its place (the same
 * data-key, or `fallbackKey`), else to `fallback`.
 */
export function dialogsIn(root: ShadowRoot, host: HTMLElement, fallback: HTMLElement): OpenDialog {
  return o => {
    const opener = o.opener ?? (root.activeElement as HTMLElement | null) ?? fallback;
    const keys = [opener.dataset.key, o.fallbackKey].filter((k): k is string => !!k);
    return openDialog(host, {
      ...o,
      restore: o.restore ?? (() => {
        const found = keys.map(k => root.querySelector<HTMLElement>(`[data-key="${CSS.escape(k)}"]`)).find(Boolean);
        (opener.isConnected ? opener : found ?? fallback).focus();
      }),
    });
  };
}
