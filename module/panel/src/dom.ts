// Plain DOM with all text set as textContent (no markup from data).
export type Child = Node | string | null | undefined | false;
export type Attrs = Record<string, string | boolean | number | EventListener | undefined | null>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/**
 * Makes `parent`'s children exactly `wanted`, moving as few nodes as it can: a node that stays where it is keeps
 * focus (replaceChildren would drop it).
 */
export function reconcile(parent: Element, wanted: readonly Element[]): void {
  const keep = new Set(wanted);
  for (const c of [...parent.children]) if (!keep.has(c)) c.remove();
  wanted.forEach((el, i) => {
    const at = parent.children[i];
    if (at !== el) parent.insertBefore(el, at ?? null);
  });
}
