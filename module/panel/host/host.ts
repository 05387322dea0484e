// A stand-in for QuFirewall's settings page: its side panel, with Secure IP Access added through the panel
// manifest (manifest.json, see README.md) — the only thing the host knows about the panel.

interface PanelManifest {
  manifestVersion: 1;
  id: string;
  title: string;
  icon: string;
  script: string;
  element: string;
  attributes?: Record<string, string>;
  sidePanel: { position: number; after?: string };
}

const SVG = 'http://www.w3.org/2000/svg';
const PATHS: Record<string, string> = {
  overview: 'M4 13h6V4H4zm0 7h6v-5H4zm8 0h8v-9h-8zm0-16v5h8V4z',
  rules: 'M4 6h16M4 12h16M4 18h10',
  profiles: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 8c0-3.3 3.1-6 7-6s7 2.7 7 6',
  logs: 'M6 3h9l4 4v14H6zM9 11h7M9 15h7M9 7h4',
};

const BUILT_IN = [
  { id: 'overview', title: 'Overview' },
  { id: 'rules', title: 'Rules' },
  { id: 'profiles', title: 'Profiles' },
  { id: 'logs', title: 'Logs' },
];

function icon(id: string): SVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(SVG, 'path');
  p.setAttribute('d', PATHS[id] ?? '');
  p.setAttribute('fill', id === 'overview' ? '#3d4a5a' : 'none');
  p.setAttribute('stroke', '#3d4a5a');
  p.setAttribute('stroke-width', id === 'overview' ? '0' : '1.8');
  p.setAttribute('stroke-linecap', 'round');
  svg.append(p);
  return svg;
}

function checkManifest(m: unknown): PanelManifest {
  const o = m as Partial<PanelManifest>;
  const ok = o && o.manifestVersion === 1 && typeof o.id === 'string' && /^[a-z0-9-]+$/.test(o.id)
    && typeof o.title === 'string' && typeof o.script === 'string' && typeof o.icon === 'string'
    && typeof o.element === 'string' && /^[a-z][a-z0-9]*-[a-z0-9-]*$/.test(o.element)
    && typeof o.sidePanel?.position === 'number'
    && !/^[a-z]+:|^\/\//i.test(o.script) && !/^[a-z]+:|^\/\//i.test(o.icon);
  if (!ok) throw new Error('the panel manifest is not valid');
  return o as PanelManifest;
}

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(s);
  });
}

async function main(): Promise<void> {
  const list = document.getElementById('side-list') as HTMLUListElement;
  const content = document.getElementById('content') as HTMLElement;
  let manifest: PanelManifest;
  try {
    const res = await fetch('manifest.json', { cache: 'no-store' });
    manifest = checkManifest(await res.json());
  } catch (e) {
    content.replaceChildren(Object.assign(document.createElement('p'), { className: 'host-error', textContent: `Secure IP Access cannot be loaded: ${(e as Error).message}` }));
    return;
  }
  const entries: Array<{ id: string; title: string; node: () => Node }> = BUILT_IN.map(b => ({ id: b.id, title: b.title, node: () => icon(b.id) }));
  entries.splice(Math.max(0, Math.min(manifest.sidePanel.position, entries.length)), 0, {
    id: manifest.id, title: manifest.title,
    node: () => Object.assign(document.createElement('img'), { src: manifest.icon, alt: '' }),
  });

  const links = new Map<string, HTMLAnchorElement>();
  for (const e of entries) {
    const a = document.createElement('a');
    a.href = `#${e.id}`;
    a.title = e.title;
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = e.title;
    a.append(e.node(), label);
    const li = document.createElement('li');
    li.append(a);
    list.append(li);
    links.set(e.id, a);
  }

  let panel: HTMLElement | null = null;
  const show = async (id: string, focus: boolean) => {
    const entry = entries.find(e => e.id === id) ?? entries.find(e => e.id === manifest.id)!;
    for (const [k, a] of links) {
      if (k === entry.id) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    document.title = `QuFirewall – ${entry.title}`;
    if (entry.id === manifest.id) {
      if (!panel) {
        await loadScript(manifest.script);
        panel = document.createElement(manifest.element);
        for (const [k, v] of Object.entries(manifest.attributes ?? {})) panel.setAttribute(k, v);
      }
      content.replaceChildren(panel);
    } else {
      const box = document.createElement('section');
      box.className = 'placeholder';
      const h = document.createElement('h1');
      h.textContent = entry.title;
      const p = document.createElement('p');
      p.textContent = `${entry.title} is part of QuFirewall itself; this page hosts only the Secure IP Access panel.`;
      box.append(h, p);
      content.replaceChildren(box);
    }
    if (focus) content.focus();
  };
  // The folded side panel (narrow screens) opens from the menu button and closes once a page is chosen.
  const side = document.getElementById('side') as HTMLElement;
  const menu = document.getElementById('menu-btn') as HTMLButtonElement;
  const fold = (open: boolean) => {
    side.classList.toggle('open', open);
    menu.setAttribute('aria-expanded', String(open));
  };
  menu.addEventListener('click', () => fold(!side.classList.contains('open')));
  side.addEventListener('keydown', e => {
    if (e.key === 'Escape' && side.classList.contains('open')) {
      fold(false);
      menu.focus();
    }
  });
  window.addEventListener('hashchange', () => {
    fold(false);
    void show(location.hash.slice(1), true);
  });
  await show(location.hash.slice(1) || manifest.id, false);
}

void main();
