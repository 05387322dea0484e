// The dialogs about Secure IP Access as a whole: turning it on or off, and linking the NAS to a QNAP ID with the
// pairing code myQNAPcloud shows its owner.
import { ApiClient, ApiFailure, asFailure, Period, Session, Status } from './api';
import { field, OpenDialog } from './dialog';
import { h } from './dom';
import { sentence } from './format';
import { DURATIONS, fieldError } from './forms';

export interface LinkChanges {
  /** The NAS is linked: the notice of an earlier failure goes and the status is read again. */
  linked(): void;
  /** A failure no field explains: a notice until dismissed or tried again (`key`), and what it means for the page. */
  failed(key: string, what: string, f: ApiFailure): void;
}

/** What the admin chose in the Enable window: enable, register their own address first and enable, or neither (''). */
export interface EnableChoice {
  choice: 'enable' | 'register' | '';
  /** How long the admin's own address is registered for (with 'register'). */
  period: Period;
}

export class ServiceDialogs {
  constructor(private readonly pid: string, private readonly open: OpenDialog, private readonly api: ApiClient, private readonly changes: LinkChanges) {}

  /** True when the admin confirmed. */
  async disable(opener: HTMLElement): Promise<boolean> {
    const ok = await this.open({
      role: 'alertdialog', title: 'Disable Secure IP Access?', opener,
      body: [h('p', { text: 'Any internet address will be able to reach NAS services again, subject to your other QuFirewall rules. Registered devices stay in the list.' })],
      actions: [{ label: 'Cancel', value: '' }, { label: 'Disable', value: 'disable', kind: 'danger' }], initial: 0,
    });
    return ok === 'disable';
  }

  /** The portal is configured but the NAS not linked: 'link' now, 'go' on without, or '' (cancel). */
  linkFirst(opener: HTMLElement): Promise<string> {
    return this.open({
      role: 'alertdialog', title: 'Link the NAS to a QNAP ID first', opener,
      body: [
        h('p', { text: 'Devices register for Secure IP Access through myQNAPcloud, and this NAS is not linked to a QNAP ID yet, so no device can register itself.' }),
        h('p', { text: 'Link it now with a pairing code from myQNAPcloud, or enable without one (only addresses an administrator registers can connect).' }),
      ],
      actions: [{ label: 'Cancel', value: '' }, { label: 'Enable without a QNAP ID', value: 'go' }, { label: 'Link to a QNAP ID', value: 'link', kind: 'primary' }], initial: 0,
    });
  }

  /** The Enable window; it warns an admin whose own address is neither LAN nor registered, and offers to register it. */
  async enable(opener: HTMLElement, status: Status, session: Session): Promise<EnableChoice> {
    const remote = session.remoteAddress;
    const exposed = !!remote && !session.remoteLan && !session.remoteRegistered;
    const periodSel = h('select', { id: `${this.pid}-period` }, ...DURATIONS.filter(([, s]) => s >= 900).map(([label, s]) => h('option', { value: String(s), text: label, selected: s === 3600 })),
      status.allowUntilRevoked ? h('option', { value: 'until-revoked', text: 'Until revoked' }) : null);
    const body: HTMLElement[] = [
      h('p', { text: 'The NAS will accept connections from the internet only from registered addresses. Open connections from other addresses are cut.' }),
      h('p', { text: `Devices on the LAN are never blocked${status.lanNetworks.length ? ` (${status.lanNetworks.join(', ')})` : ''}.` }),
    ];
    if (exposed) {
      body.push(h('div', { class: 'notice warn', role: 'alert' },
        h('strong', { text: `You are connected from ${remote}, which is not registered.` }),
        h('span', { text: ' Enabling now would cut this session and lock you out. Register this address first:' })),
      h('p', { class: 'field' }, h('label', { for: `${this.pid}-period`, text: `Keep ${remote} registered for ` }), periodSel));
    }
    const choice = await this.open({
      role: exposed ? 'alertdialog' : 'dialog', title: 'Enable Secure IP Access', body, opener,
      actions: exposed
        ? [{ label: 'Cancel', value: '' }, { label: 'Enable anyway', value: 'enable', kind: 'danger' }, { label: 'Register and enable', value: 'register', kind: 'primary' }]
        : [{ label: 'Cancel', value: '' }, { label: 'Enable Secure IP Access', value: 'enable', kind: 'primary' }],
      initial: exposed ? 2 : 1,
    });
    return {
      choice: choice === 'enable' || choice === 'register' ? choice : '',
      period: periodSel.value === 'until-revoked' ? 'until-revoked' : Number(periodSel.value),
    };
  }

  /** The pairing code myQNAPcloud shows its owner, entered here. */
  async link(opener: HTMLElement): Promise<void> {
    const code = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: '16', class: 'mono code', placeholder: 'ABCD2345' });
    const f = field('Pairing code', code, 'The 8 letters and digits myQNAPcloud shows under Secure IP Access → Link a NAS.');
    const general = h('div', { class: 'notice error', role: 'alert', hidden: true });
    await this.open({
      role: 'dialog', title: 'Link the NAS to a QNAP ID', opener,
      body: [
        general,
        h('ol', { class: 'steps' },
          h('li', { text: 'On myQNAPcloud, sign in with the QNAP ID that should own this NAS.' }),
          h('li', { text: 'Open Secure IP Access → Link a NAS; it shows a pairing code.' }),
          h('li', { text: 'Enter the code here. Devices can then register themselves from myQNAPcloud.' })),
        f.wrap,
      ],
      actions: [{ label: 'Cancel', value: '' }, { label: 'Link', value: 'link', kind: 'primary' }],
      initial: code,
      submit: async () => {
        f.setError(null);
        general.hidden = true;
        if (!code.value.trim()) {
          f.setError('Enter the pairing code myQNAPcloud shows.');
          code.focus();
          return false;
        }
        try {
          await this.api.bind(code.value.trim());
          this.changes.linked();
          return true;
        } catch (e) {
          const fl = asFailure(e);
          if (fl.status === 400 || fl.status === 409 || fl.status === 502) {
            fieldError(fl, { code: { setError: f.setError, focus: () => code.focus() } }, general);
            if (!fl.field) {
              f.setError(sentence(fl.message));
              general.hidden = true;
              code.focus();
            }
            return false;
          }
          this.changes.failed('bind', 'Link to a QNAP ID', fl);
          return true;
        }
      },
    });
  }
}
