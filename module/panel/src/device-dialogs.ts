// The dialogs about one device: Register a device, Extend, and Revoke Request. Mistakes show at the field they are
// about, in the service's own words (those the CLI prints).
import { ApiClient, ApiFailure, asFailure, Device } from './api';
import { field, OpenDialog } from './dialog';
import { h } from './dom';
import { dateTime, describe, untilText } from './format';
import { durationField, fieldError } from './forms';
import { keyOf } from './book';

/** What becomes of the service's answer outside the dialog. */
export interface DeviceChanges {
  /** The service took a registration: it goes into the list, the notice of an earlier failure (`key`) goes, `said` is announced. */
  saved(d: Device, key: string, said: string): void;
  /** A failure no field explains: a notice until dismissed or tried again (`key`), and what it means for the page. */
  failed(key: string, what: string, f: ApiFailure): void;
}

export class DeviceDialogs {
  constructor(private readonly open: OpenDialog, private readonly api: ApiClient, private readonly changes: DeviceChanges) {}

  /** `address`: filled in (the admin's own); `untilRevoked`: the service's policy offers it. */
  async register(opener: HTMLElement, address: string, untilRevoked: boolean): Promise<void> {
    const addr = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', value: address, placeholder: '203.0.113.7 or 2001:db8::7' });
    const more = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'optional, separated by spaces' });
    const label = h('input', { type: 'text', autocomplete: 'off', maxlength: '200', placeholder: 'e.g. Ana’s laptop' });
    const fAddr = field('Address', addr, 'The public address the device connects from.');
    const fMore = field('More addresses of this device', more, 'At most one IPv4 and a few IPv6 addresses in all.');
    const fLabel = field('Label', label);
    const dur = durationField(3600, untilRevoked);
    const general = h('div', { class: 'notice error', role: 'alert', hidden: true });
    const fields = {
      address: { setError: fAddr.setError, focus: () => addr.focus() },
      moreAddresses: { setError: fMore.setError, focus: () => more.focus() },
      label: { setError: fLabel.setError, focus: () => label.focus() },
      expiry: { setError: dur.setError, focus: dur.focus },
    };
    await this.open({
      role: 'dialog', title: 'Register a device', opener,
      body: [general, fAddr.wrap, fMore.wrap, fLabel.wrap, dur.wrap, h('p', { class: 'sub', text: 'An address registered again is renewed: its new period replaces the old one.' })],
      actions: [{ label: 'Cancel', value: '' }, { label: 'Register', value: 'register', kind: 'primary' }],
      initial: address ? label : addr,
      submit: async () => {
        for (const f of [fAddr, fMore, fLabel]) f.setError(null);
        dur.setError(null);
        general.hidden = true;
        const period = dur.period();
        if (period === null) return false;
        try {
          const d = await this.api.register({ address: addr.value.trim(), moreAddresses: more.value.trim() ? more.value.trim().split(/[\s,]+/) : undefined, label: label.value, period });
          this.changes.saved(d, 'register', `${describe(d)} is registered ${untilText(d)}.`);
          return true;
        } catch (e) {
          const f = asFailure(e);
          if (f.status === 400 || f.status === 409) {
            fieldError(f, fields, general);
            return false;
          }
          this.changes.failed('register', `Register ${addr.value.trim() || 'a device'}`, f);
          return true;
        }
      },
    });
  }

  /** A new period for an active local registration: it starts now and replaces the old one. */
  async extend(d: Device, opener: HTMLElement, untilRevoked: boolean): Promise<void> {
    const granted = d.expiresAt === null ? 0 : d.expiresAt - d.registeredAt;
    const dur = durationField(granted >= 3600_000 ? 3600 * Math.min(12, Math.round(granted / 3600_000)) : 3600, untilRevoked);
    const general = h('div', { class: 'notice error', role: 'alert', hidden: true });
    const key = `extend-${d.id}`;
    await this.open({
      role: 'dialog', title: `Extend access for ${d.address}`, opener, fallbackKey: `extend-${keyOf(d)}`,
      body: [
        general,
        h('p', { text: `${d.label ? `${d.label}: ` : ''}access now ends ${d.expiresAt === null ? 'only when it is revoked' : `at ${dateTime(d.expiresAt)}`}. The new period starts now and replaces the old one.` }),
        dur.wrap,
      ],
      actions: [{ label: 'Cancel', value: '' }, { label: 'Extend', value: 'extend', kind: 'primary' }],
      initial: 1,
      submit: async () => {
        dur.setError(null);
        general.hidden = true;
        const period = dur.period();
        if (period === null) return false;
        try {
          const after = await this.api.register({ address: d.address, moreAddresses: d.addresses.slice(1), label: d.label, period });
          this.changes.saved(after, key, `Access for ${describe(after)} now lasts ${untilText(after)}.`);
          return true;
        } catch (e) {
          const f = asFailure(e);
          if (f.status === 400) {
            fieldError(f, { expiry: { setError: dur.setError, focus: dur.focus } }, general);
            return false;
          }
          this.changes.failed(key, `Extend ${d.address}`, f);
          return true;
        }
      },
    });
  }

  /**
   * Asks for a reason and runs `revoke` with it (true when it worked); `own`: the admin's connection relies on it.
   * Answers whether the device was revoked.
   */
  async revoke(d: Device, own: boolean, opener: HTMLElement, revoke: (reason: string) => Promise<boolean>): Promise<boolean> {
    const reason = h('input', { type: 'text', maxlength: '200', placeholder: 'optional', autocomplete: 'off' });
    const reasonField = field('Reason', reason);
    let revoked = false;
    await this.open({
      role: 'alertdialog', title: 'Revoke Request', opener,
      body: [
        h('p', {}, 'Revoke internet access for ', h('strong', { class: 'mono', text: d.address }), d.label ? ` (${d.label})` : '', d.addresses.length > 1 ? ` and its ${d.addresses.length - 1} other address${d.addresses.length > 2 ? 'es' : ''}` : '', '?'),
        own ? h('div', { class: 'notice warn', role: 'alert', text: 'This is the address you are connected from: while Secure IP Access is on, revoking it cuts this session.' }) : h('span'),
        h('p', { text: 'The device loses access at once and its open connections are cut. It cannot connect again until it is registered once more.' }),
        reasonField.wrap,
      ],
      actions: [{ label: 'Cancel', value: '' }, { label: 'Revoke Request', value: 'revoke', kind: 'danger' }],
      initial: 0,
      restore: v => {
        if (v !== 'revoke') opener.focus();
      },
      submit: async () => {
        revoked = await revoke(reason.value.trim() || 'revoked in QuFirewall');
      },
    });
    return revoked;
  }
}
