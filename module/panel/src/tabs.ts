// The panel's two views as WAI-ARIA tabs: arrow keys move to the next or previous tab, wrapping; Home and End to
// the first and the last.
import { h } from './dom';

export type Tab = 'devices' | 'audit';
const TABS: readonly Tab[] = ['devices', 'audit'];
const LABELS: Record<Tab, string> = { devices: 'Trusted list', audit: 'Audit log' };

export class Tabs {
  /** The tab list. */
  readonly el: HTMLElement;
  private current: Tab = 'devices';
  private readonly tabs: Record<Tab, HTMLButtonElement>;

  /** `panels`: each tab's panel (ids `${pid}-p-${tab}`); `chosen` runs once a tab is selected. */
  constructor(pid: string, private readonly panels: Record<Tab, HTMLElement>, private readonly chosen: (key: Tab) => void) {
    const tab = (key: Tab) => h('button', {
      role: 'tab', type: 'button', id: `${pid}-t-${key}`, 'aria-controls': `${pid}-p-${key}`, 'aria-selected': key === 'devices' ? 'true' : 'false',
      tabindex: key === 'devices' ? '0' : '-1', class: 'tab', text: LABELS[key], onclick: () => this.select(key), onkeydown: (e: Event) => this.keys(e as KeyboardEvent),
    });
    this.tabs = { devices: tab('devices'), audit: tab('audit') };
    this.el = h('div', { role: 'tablist', 'aria-label': 'Secure IP Access views' }, this.tabs.devices, this.tabs.audit);
  }

  get shown(): Tab {
    return this.current;
  }

  private select(key: Tab, focus = false): void {
    this.current = key;
    for (const k of TABS) {
      const on = k === key;
      this.tabs[k].setAttribute('aria-selected', String(on));
      this.tabs[k].tabIndex = on ? 0 : -1;
      this.panels[k].hidden = !on;
    }
    if (focus) this.tabs[key].focus();
    this.chosen(key);
  }

  private keys(e: KeyboardEvent): void {
    const at = TABS.indexOf(this.current);
    const next: Tab | null = e.key === 'ArrowRight' ? TABS[(at + 1) % TABS.length]
      : e.key === 'ArrowLeft' ? TABS[(at - 1 + TABS.length) % TABS.length]
      : e.key === 'Home' ? TABS[0] : e.key === 'End' ? TABS[TABS.length - 1] : null;
    if (!next) return;
    e.preventDefault();
    this.select(next, true);
  }
}
