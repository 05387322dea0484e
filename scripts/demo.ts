// `npm start`: the main job on a dev machine. Builds the cast in namespaces (scripts/lib/stage.ts), walks the
// story a user lives through, printing each step and its proof, then stays up with the panel and the portal
// reachable from this machine's loopback until Ctrl-C removes everything it made.
// `npm start -- --once` walks the story and exits 0 only if every proof held.
import { buildStage, OWNER, Stage } from './lib/stage';
import { startPortalDevice } from './lib/device';
import { holdConnection, tryConnect } from './lib/netns';
import { loadNative } from '../module/kernel/native';
import { formatAddress, parseNetwork } from '../module/domain/address';
import { sleep, until } from './lib/wait';

const once = process.argv.includes('--once');
const WEB = 8080;
const SSH = 22; // the echo service standing in for a long-lived session
let failures = 0;

const line = (s = '') => process.stdout.write(`${s}\n`);
function proof(ok: boolean, what: string): void {
  line(`    ${ok ? 'PROOF' : 'FAILED'}: ${what}`);
  if (!ok) failures++;
}
/** How long until fn holds (polled every 5 ms), or null when it does not within ms. */
async function untilTrue(fn: () => boolean | Promise<boolean>, ms: number): Promise<number | null> {
  const t0 = Date.now();
  return until('', fn, ms, 5).then(() => Date.now() - t0, () => null);
}

async function story(stage: Stage): Promise<void> {
  const { net, daemon } = stage;
  const device = net.remoteAddr[4];
  const device6 = net.remoteAddr[6];
  // Another device on the internet, dual-stacked too, on another network, that nobody registers.
  const stranger = { 4: '203.0.113.20', 6: '2001:db8:5::20' };
  net.addRemoteAddress(stranger[4]);
  net.addRemoteAddress(stranger[6]);
  const nl = loadNative().open(net.nasPath);
  const allows = (addr: string) => {
    const n = parseNetwork(addr);
    return nl.setTest(`sipa${n.family}_allow`, n.family, n.bytes, n.prefix);
  };
  const inKernel = () => allows(device) && allows(device6);
  const reaches = (family: 4 | 6, from: string) => tryConnect(net.remote, net.nasAddr[family], WEB, { from });
  const phone = startPortalDevice(net.remote, stage.portalPublicUrl);
  try {
    line('\n1. The admin turns Secure IP Access on (sipa enable).');
    const en = await daemon.sipa('enable');
    proof(en.code === 0, en.stdout.trim() || en.stderr.trim());
    proof(await reaches(4, device) === 'timeout' && await reaches(6, device6) === 'timeout',
      `the remote device (${device}, ${device6}) cannot reach the NAS web UI (${net.nasAddr[4]}:${WEB}, [${net.nasAddr[6]}]:${WEB})`);
    proof(await tryConnect(net.router, net.nasAddr[4], WEB) === 'connected', `the LAN (${net.routerAddr[4]}) still can`);

    line('\n2. The owner signs in to the portal from the device, a phone with an IPv4 and an IPv6 address, and');
    line('   registers it for 2 minutes. The page also calls the portal\'s IPv4-only and IPv6-only endpoints, so the');
    line('   portal registers both addresses it saw itself, as one device.');
    await phone.call({ op: 'signin', qnapId: OWNER.qnapId, password: OWNER.password });
    const t0 = Date.now();
    const reg = await phone.call<{ device: { addresses: string[] } }>({ op: 'register-seen', nasId: stage.nasId, expiry: 120, label: 'phone (2 min)' });
    const took = await untilTrue(inKernel, 5000);
    const entries = [...nl.setList('sipa4_allow'), ...nl.setList('sipa6_allow')].map(m => formatAddress(m.family, m.bytes, m.prefix));
    proof(took !== null, `the kernel allows ${reg.device.addresses.join(' and ')} ${took === null ? 'NOT within 5 s' : `${Date.now() - t0} ms after the portal action`}`
      + ` (entries ${entries.join(', ')}: policy.ipv6Scope "network" allows the IPv6 address's /64)`);
    proof(await reaches(4, device) === 'connected', `the device reaches the NAS web UI over IPv4 (from ${device})`);
    proof(await reaches(6, device6) === 'connected', `and over IPv6 (from ${device6})`);
    const list = await daemon.sipaJson<Array<{ address: string; addresses: string[]; source: string; qnapId: string }>>('list');
    const one = list.filter(d => d.addresses.includes(device) || d.addresses.includes(device6));
    proof(one.length === 1 && one[0].addresses.join() === `${device},${device6}` && one[0].source === 'portal' && one[0].qnapId === OWNER.qnapId,
      `sipa list shows one device with both addresses, from the portal, for ${OWNER.qnapId}`);
    proof(await reaches(4, stranger[4]) === 'timeout' && await reaches(6, stranger[6]) === 'timeout',
      `an unregistered dual-stack device (${stranger[4]}, ${stranger[6]}) reaches it over neither family`);

    line('\n3. The admin revokes it (sipa revoke) while the device has sessions open (port 22) over both families.');
    const held = holdConnection(net.remote, net.nasAddr[4], SSH, device);
    const held6 = holdConnection(net.remote, net.nasAddr[6], SSH, device6);
    proof((await held.connected) && (await held6.connected), 'the device holds a session open over IPv4 and one over IPv6');
    await sleep(300);
    const t1 = Date.now();
    const rev = await daemon.sipa('revoke', device, '--reason', 'demo: admin revokes');
    proof(rev.code === 0, rev.stdout.trim() || rev.stderr.trim());
    const dead = await Promise.race([Promise.all([held.dead, held6.dead]), sleep(3000).then(() => null)]);
    proof(dead !== null, dead ? `both open connections were cut, ${Math.max(...dead.map(d => d.atMs)) - t1} ms later at most (${dead[0].reason})` : 'an open connection was NOT cut');
    proof(await reaches(4, device) === 'timeout' && await reaches(6, device6) === 'timeout', 'new connections are refused over both families');
    const ended = await untilTrue(async () => (await stage.owner.devices(stage.nasId, true)).some(d => d.address === device && d.state === 'revoked'), 5000);
    proof(ended !== null, 'the portal lists the device as revoked too');

    line('\n4. The owner registers the device again, for this session.');
    await phone.call({ op: 'register-seen', nasId: stage.nasId, expiry: 'session', label: 'phone (session)' });
    proof(await untilTrue(inKernel, 5000) !== null, 'the kernel holds the session entries');
    proof(await reaches(4, device) === 'connected' && await reaches(6, device6) === 'connected', 'the device reaches the NAS again, over both families');

    line('\n5. The owner signs out of the portal.');
    const held2 = holdConnection(net.remote, net.nasAddr[4], SSH, device);
    proof(await held2.connected, 'the device holds a session open');
    await sleep(300);
    const t2 = Date.now();
    await phone.call({ op: 'signout' });
    const dead2 = await Promise.race([held2.dead, sleep(5000).then(() => null)]);
    proof(dead2 !== null, dead2 ? `the open connection was cut ${dead2.atMs - t2} ms after sign-out (${dead2.reason})` : 'the open connection was NOT cut');
    proof(await reaches(4, device) === 'timeout' && await reaches(6, device6) === 'timeout', 'new connections are refused');

    line('\n6. The QuFirewall panel answers on this machine\'s loopback.');
    const panel = new URL(stage.panelUrl);
    const token = new URLSearchParams(panel.hash.slice(1)).get('token') ?? '';
    const page = await fetch(new URL('/', panel)).then(r => r.text());
    const manifest = await fetch(new URL('/manifest.json', panel)).then(r => r.json()) as { element?: string };
    proof(/QuFirewall/.test(page) && manifest.element === 'sipa-panel', `the settings page and the panel's manifest are served at ${panel.origin}/`);
    const status = await fetch(new URL('/api/v1/status', panel), { headers: { Authorization: `Bearer ${token}` } }).then(r => r.json()) as { enabled: boolean; portal: { bound: boolean } };
    proof(status.enabled && status.portal.bound, 'its API reports enforcement on and the NAS bound to the portal');
    const audit = await daemon.sipaJson<Array<{ action: string; surface: string; actor: string; detail: string }>>('audit', '--limit', '12');
    line('\n   The audit log (newest first):');
    for (const a of audit.slice(0, 8)) line(`     ${a.surface}:${a.actor}  ${a.action}  ${a.detail}`);
  } finally {
    phone.close();
    nl.close();
  }
}

async function main(): Promise<void> {
  line('Secure IP Access — demo. Everything runs in network namespaces made now and removed at the end;');
  line("this machine's own firewall, sets and routes are not touched.\n");
  let stage: Stage | null = null;
  const cleanup = async () => {
    if (stage) {
      line('\nremoving the namespaces, the daemon and the portal ...');
      await stage.close();
      stage = null;
    }
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(failures ? 1 : 0)));
  process.on('SIGTERM', () => void cleanup().then(() => process.exit(failures ? 1 : 0)));
  try {
    // Fixed ports for a person to remember; one that is taken is replaced by a free one (the stage says which).
    stage = await buildStage({ tag: 'demo', log: s => line(`  - ${s}`), ports: once ? {} : { panel: 8491, devicePortal: 8800, devicePortal4: 8801, devicePortal6: 8802, deviceWebUi: 8081, webUi: 8080 } });
    await story(stage);
    line(`\n${failures === 0 ? 'Every proof held.' : `${failures} proof(s) FAILED.`}`);
    if (once) return;
    line('\nStill running. From this machine:');
    line(`  the QuFirewall panel:    ${stage.panelUrl}`);
    line(`  the dev portal:          ${stage.devicePortalUrl}  (sign in as ${OWNER.qnapId} / ${OWNER.password})`);
    line(`                           you are the remote device ${stage.net.remoteAddr[4]} and ${stage.net.remoteAddr[6]} there: the page checks`);
    line(`                           each family (${stage.devicePortalProbeUrls[4]}, ${stage.devicePortalProbeUrls[6]}),`);
    line('                           and "Register this device" lets both in');
    line(`  the NAS web UI stand-in: ${stage.deviceWebUiUrl}  (as the device reaches it: only while it is registered)`);
    line(`                           ${stage.webUiUrl}  (from the LAN: always)`);
    line(`  the CLI:                 node dist/module/cli/main.js --config ${stage.daemon.configPath} status`);
    line('Ctrl-C removes everything.');
    await new Promise(() => undefined);
  } finally {
    if (once) await cleanup();
  }
}

main().then(() => { process.exitCode = failures ? 1 : 0; }, async err => {
  line(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
