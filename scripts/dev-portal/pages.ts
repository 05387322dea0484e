// Server-rendered pages of the dev portal: plain HTML forms. One small script (DEVICE_SCRIPT, served as
// /device.js) lets the registration page reach the portal over each family; without it a form registers the one
// address it came from.
import type { NasRecord, PortalDevice, Session } from './state';

export interface PageContext {
  session: Session | null;
  address: string;
  maxHours: number;
  allowAddressOverride: boolean;
  nases: Array<NasRecord & { connected: boolean }>;
  nas: (NasRecord & { connected: boolean }) | null;
  flash: string | null;
  error: string | null;
  code: { code: string; expiresAt: number } | null;
  leaseSeconds: number;
  /** The IPv4-only and IPv6-only endpoints the registration page calls (null: not offered). */
  probes: { 4: string | null; 6: string | null };
  /** The token under which the portal notes where this page's requests come from. */
  sighting: string | null;
  pageRenewSeconds: number;
}

/**
 * The registration page's calls (API.md, "Both families"): one to each single-family endpoint, so the portal
 * itself sees this device's IPv4 and IPv6 address; the form then registers what the portal saw. The page calls
 * again every few minutes and when the network changes: the same session seen from a new address (a rotated
 * IPv6 temporary address) is added to its device, with its expiry unchanged. What the endpoints answer is shown,
 * never sent back: the portal keeps its own record.
 */
export const DEVICE_SCRIPT = `'use strict';
(() => {
  const root = document.getElementById('families');
  if (!root) return;
  const button = document.getElementById('register');
  const probe = async (family) => {
    const base = root.dataset['probe' + family];
    const out = document.getElementById('seen' + family);
    if (!base) { out.textContent = 'not offered by this portal'; return; }
    try {
      const r = await fetch(base + '/api/v1/sightings/' + encodeURIComponent(root.dataset.sighting), { method: 'POST', signal: AbortSignal.timeout(4000) });
      const body = await r.json();
      out.textContent = r.ok ? body.address : 'not seen (' + ((body.error && body.error.message) || r.status) + ')';
      if (r.ok && body.added.length) out.textContent += ' (added to this device)';
    } catch (e) {
      out.textContent = 'not reachable over IPv' + family;
    }
  };
  let running = null;
  const both = () => (running ??= Promise.all([probe(4), probe(6)]).finally(() => { running = null; root.dataset.checked = String(Number(root.dataset.checked || 0) + 1); }));
  if (button) button.disabled = true;
  both().finally(() => { if (button) button.disabled = false; });
  setInterval(both, Number(root.dataset.renewSeconds) * 1000);
  window.addEventListener('online', both);
})();
`;

const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const time = (ms: number | null): string => (ms === null ? '—' : new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'));

const CSS = `
*{box-sizing:border-box}body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1c2430;background:#f3f5f8}
header{background:#0b5cad;color:#fff;padding:12px 24px;display:flex;align-items:center;gap:16px}
header h1{font-size:18px;margin:0;flex:1}header form{margin:0}
main{max-width:920px;margin:24px auto;padding:0 16px}
.card{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:20px 24px;margin-bottom:20px}
h2{font-size:17px;margin:0 0 12px}table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:8px 6px;border-bottom:1px solid #e5e8ed;vertical-align:middle}
th{font-size:12px;text-transform:uppercase;color:#5c6775;letter-spacing:.04em}
button,.btn{background:#0b5cad;color:#fff;border:0;border-radius:6px;padding:7px 14px;font:inherit;cursor:pointer;text-decoration:none;display:inline-block}
button.ghost{background:transparent;border:1px solid #fff}button.danger{background:#c62828}
input,select{font:inherit;padding:6px 8px;border:1px solid #c3cad3;border-radius:6px}
label{display:block;margin:8px 0 4px;color:#3a4452;font-size:13px}
.row{display:flex;gap:12px;align-items:flex-end;flex-wrap:wrap}.muted{color:#6b7684;font-size:13px}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;background:#e4e7eb}
.ok{background:#d7f2de;color:#17632d}.off{background:#fde3e1;color:#9b1c1c}
.code{font:600 28px/1.2 ui-monospace,monospace;letter-spacing:.18em;background:#eef3fb;padding:10px 16px;border-radius:8px;display:inline-block}
.flash{background:#e6f4ea;border-left:4px solid #2e7d32;padding:10px 14px;margin-bottom:16px;border-radius:4px}
.error{background:#fdecea;border-left:4px solid #c62828;padding:10px 14px;margin-bottom:16px;border-radius:4px}
code{font-family:ui-monospace,monospace}`;

function layout(ctx: PageContext, title: string, content: string): string {
  const user = ctx.session
    ? `<span>${esc(ctx.session.qnapId)}</span><form method="post" action="/signout"><input type="hidden" name="csrf" value="${esc(ctx.session.csrf)}"><button class="ghost">Sign out</button></form>`
    : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · myQNAPcloud (dev portal)</title><style>${CSS}</style></head>
<body><header><h1>myQNAPcloud <span class="muted" style="color:#cfe0f5">dev portal</span></h1>${user}</header><main>
${ctx.error ? `<div class="error">${esc(ctx.error)}</div>` : ''}${ctx.flash ? `<div class="flash">${esc(ctx.flash)}</div>` : ''}${content}</main></body></html>`;
}

function expiryOptions(maxHours: number): string {
  const choices: Array<[string, string]> = [['session', 'This session (until I sign out)'], ['60', '1 minute'], ['300', '5 minutes'], ['900', '15 minutes'], ['1800', '30 minutes']];
  for (const h of [1, 2, 4, 8, 12, 24]) if (h <= maxHours) choices.push([String(h * 3600), `${h} hour${h > 1 ? 's' : ''}`]);
  return choices.map(([v, t]) => `<option value="${v}">${esc(t)}</option>`).join('');
}

function deviceRow(ctx: PageContext, nasId: string, d: PortalDevice): string {
  const csrf = esc(ctx.session?.csrf);
  const until = d.policy === 'session' ? (d.sessionId === ctx.session?.sessionId ? 'this session' : 'another session') : time(d.expiresAt);
  const state = d.state === 'active' ? '<span class="badge ok">active</span>' : `<span class="badge off">${esc(d.state)}</span>`;
  const action = d.state === 'active'
    ? `<form method="post" action="/nas/${esc(nasId)}/devices/${esc(d.ref)}/revoke"><input type="hidden" name="csrf" value="${csrf}"><button class="danger">Revoke</button></form>`
    : `<span class="muted">${esc(d.note ?? '')}</span>`;
  const addresses = (d.addresses ?? [d.address]).map((a) => `<code>${esc(a)}</code>`).join('<br>');
  return `<tr><td>${addresses}<div class="muted">${esc(d.label)}</div></td><td>${esc(until)}</td><td>${time(d.registeredAt)}</td><td>${state}</td><td>${action}</td></tr>`;
}

export function renderPage(kind: 'signin' | 'nases' | 'nas' | 'error', ctx: PageContext): string {
  if (kind === 'error') return layout(ctx, 'Error', '<div class="card"><a class="btn" href="/">Back</a></div>');
  if (kind === 'signin') {
    return layout(ctx, 'Sign in', `<div class="card" style="max-width:420px;margin:40px auto"><h2>Sign in with your QNAP ID</h2>
<form method="post" action="/signin"><label>QNAP ID</label><input name="qnapId" type="email" required autofocus style="width:100%">
<label>Password</label><input name="password" type="password" required style="width:100%"><p><button>Sign in</button></p></form></div>`);
  }
  const csrf = esc(ctx.session?.csrf);
  if (kind === 'nases') {
    const rows = ctx.nases.map((n) => `<tr><td><strong>${esc(n.name)}</strong><div class="muted"><code>${esc(n.nasId)}</code></div></td>
<td>${n.connected ? '<span class="badge ok">online</span>' : '<span class="badge off">offline</span>'}</td><td>${time(n.lastContactAt)}</td>
<td>${n.devices.filter((d) => d.state === 'active').length}</td><td><a class="btn" href="/nas/${esc(n.nasId)}">Secure IP Access</a></td></tr>`).join('');
    const code = ctx.code
      ? `<p>On the NAS run:</p><p><code>sipa bind --portal &lt;this portal's URL&gt; --code ${esc(ctx.code.code)}</code></p><div class="code">${esc(ctx.code.code)}</div><p class="muted">Valid until ${time(ctx.code.expiresAt)}, once.</p>`
      : '';
    return layout(ctx, 'My NAS', `<div class="card"><h2>My NAS devices</h2>${rows ? `<table><tr><th>NAS</th><th>Status</th><th>Last contact</th><th>Devices</th><th>Actions</th></tr>${rows}</table>` : '<p class="muted">No NAS is bound to this QNAP ID yet.</p>'}</div>
<div class="card"><h2>Bind a NAS</h2>${code}<form method="post" action="/pair"><input type="hidden" name="csrf" value="${csrf}"><button>Get a pairing code</button></form></div>`);
  }
  const nas = ctx.nas as NasRecord & { connected: boolean };
  const devices = nas.devices.slice().reverse().slice(0, 50).map((d) => deviceRow(ctx, nas.nasId, d)).join('');
  const override = ctx.allowAddressOverride ? '<div><label>Address (dev override)</label><input name="address" placeholder="as seen"></div>' : '';
  return layout(ctx, `Secure IP Access · ${nas.name}`, `<p><a href="/">← My NAS devices</a></p>
<div class="card"><h2>Secure IP Access · ${esc(nas.name)} ${nas.connected ? '<span class="badge ok">online</span>' : '<span class="badge off">offline</span>'}</h2>
<p>This device connects from <code>${esc(ctx.address)}</code>.</p>
<div id="families" data-sighting="${esc(ctx.sighting)}" data-probe4="${esc(ctx.probes[4] ?? '')}" data-probe6="${esc(ctx.probes[6] ?? '')}" data-renew-seconds="${ctx.pageRenewSeconds}">
<p class="muted">The portal checks each family itself: IPv4 <code id="seen4">…</code> · IPv6 <code id="seen6">…</code>. Every address it saw is registered, as one device.</p></div>
<form method="post" action="/nas/${esc(nas.nasId)}/devices"><input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="sighting" value="${esc(ctx.sighting)}"><div class="row">
<div><label>Label</label><input name="label" maxlength="64" placeholder="e.g. laptop"></div>
<div><label>Access expires</label><select name="expiry">${expiryOptions(ctx.maxHours)}</select></div>${override}
<div><button id="register">Register this device</button></div></div></form><script src="/device.js"></script>
<p class="muted">"This session" ends when you sign out; the NAS also drops it ${ctx.leaseSeconds} s (plus its grace) after it last heard from the portal.</p></div>
<div class="card"><h2>Devices</h2>${devices ? `<table><tr><th>Addresses</th><th>Until</th><th>Registered</th><th>State</th><th></th></tr>${devices}</table>` : '<p class="muted">No device registered yet.</p>'}</div>`);
}
