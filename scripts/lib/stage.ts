// The whole cast in namespaces, for the demo and the end-to-end tests: a NAS (the daemon enforcing in it, the
// QTS web UI stand-in on 8080, an echo service on 22 for long-lived sessions), a router, a remote device on the
// internet with an IPv4 and an IPv6 address, and the dev portal in a cloud namespace (both families on port 80;
// an IPv4-only endpoint on 81 and an IPv6-only one on 82, which its registration page calls). The daemon runs in the host namespace and reaches the portal (and the admin reaches the portal
// and the web UI) through loopback bridges; nothing in the host's own network changes.
import { ChildProcess, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { makeTopology, startServer, startWebUi, Topology } from './netns';
import { bridgeIntoNamespace, Bridge } from './bridge';
import { makeDaemon, TestDaemon } from './daemon';
import { DevPortalClient } from '../dev-portal/client';

export const OWNER = { qnapId: 'owner@example.com', password: 'demo-password' };
const PORTAL_MAIN = path.resolve(__dirname, '..', 'dev-portal', 'main.js');

export interface Stage {
  net: Topology;
  daemon: TestDaemon;
  /** The portal as the admin's browser on the host reaches it. */
  portalUrl: string;
  /** The portal as devices on the internet reach it (over IPv4; portalPublicUrl6 over IPv6). */
  portalPublicUrl: string;
  portalPublicUrl6: string;
  /**
   * The portal on this machine's loopback as the remote device (203.0.113.10) sees it: connections leave from
   * the remote namespace, so "Register this device" registers the device, not the portal's own address.
   */
  devicePortalUrl: string;
  /** The portal's IPv4-only and IPv6-only endpoints as the remote device reaches them from this machine. */
  devicePortalProbeUrls: { 4: string; 6: string };
  /** The NAS web UI as the remote device reaches it (through the NAS firewall: blocked unless registered). */
  deviceWebUiUrl: string;
  webUiUrl: string;
  panelUrl: string;
  nasId: string;
  owner: DevPortalClient;
  /** The dev portal process (its state is kept in a file, so a restart keeps its key, bindings and devices). */
  portal: StagePortal;
  close(): Promise<void>;
}

export interface StagePortal {
  /** The running portal process, or null while it is stopped. */
  readonly process: ChildProcess | null;
  /** Kills the portal process (default SIGKILL: it vanishes without a word) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again (same address, port, accounts, lease and state file); resolves once it listens. */
  start(): Promise<void>;
}

export interface StageOptions {
  tag?: string;
  /** Host loopback ports (0 = any free one); one that is taken is replaced by a free one. */
  ports?: { panel?: number; portal?: number; devicePortal?: number; devicePortal4?: number; devicePortal6?: number; webUi?: number; deviceWebUi?: number };
  leaseSeconds?: number;
  /** How often the portal renews session leases (s; default a third of the lease). */
  leaseRenewSeconds?: number;
  /** How often an open registration page calls both families again (s; default 60). */
  pageRenewSeconds?: number;
  /** The built panel the daemon serves (default: dist/panel of this tree). */
  panelDir?: string;
  daemonConfig?: Record<string, unknown>;
  log?: (line: string) => void;
}

/** `wanted` if nothing listens on it on loopback, else 0 (any free port). */
function portOrAny(wanted: number | undefined): Promise<number> {
  if (!wanted) return Promise.resolve(0);
  return new Promise(resolve => {
    const probe = net.createServer();
    probe.once('error', () => resolve(0));
    probe.listen(wanted, '127.0.0.1', () => probe.close(() => resolve(wanted)));
  });
}

export async function buildStage(opts: StageOptions = {}): Promise<Stage> {
  const say = opts.log ?? (() => undefined);
  const closers: Array<() => Promise<void> | void> = [];
  const close = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    say('namespaces: nas (192.0.2.1, 2001:db8:1::1), router, remote device (203.0.113.10, 2001:db8:2::10), cloud portal (198.51.100.10, 2001:db8:3::10)');
    const net = makeTopology(opts.tag ?? 'stage', { cloud: true });
    closers.push(() => net.destroy());
    const web: ChildProcess = await startWebUi(net.nas, 8080);
    closers.push(() => { web.kill(); });
    // A long-lived session to cut (an echo service on 22, standing in for SSH).
    const session: ChildProcess = await startServer(net.nas, [22]);
    closers.push(() => { session.kill(); });

    const sockDir = path.join('/tmp', `sipa-stage-${process.pid}-${crypto.randomBytes(3).toString('hex')}`);
    fs.mkdirSync(sockDir, { recursive: true });
    closers.push(() => fs.rmSync(sockDir, { recursive: true, force: true }));
    const ports = {
      panel: await portOrAny(opts.ports?.panel), portal: await portOrAny(opts.ports?.portal),
      devicePortal: await portOrAny(opts.ports?.devicePortal), devicePortal4: await portOrAny(opts.ports?.devicePortal4),
      devicePortal6: await portOrAny(opts.ports?.devicePortal6), webUi: await portOrAny(opts.ports?.webUi),
      deviceWebUi: await portOrAny(opts.ports?.deviceWebUi),
    };
    for (const [k, v] of Object.entries(opts.ports ?? {})) {
      if (v && !ports[k as keyof typeof ports]) say(`port ${v} (${k}) is taken: using a free one instead`);
    }

    // The bridges first: the portal's page, served through the device bridge, is told the bridged URLs of the
    // single-family endpoints. Each bridge connects from inside the remote namespace, so the portal sees the
    // remote device's own address of that family.
    const [v4, v6] = [net.cloudAddr[4], net.cloudAddr[6]];
    const portalBridge: Bridge = await bridgeIntoNamespace(net.cloud!, v4, 80, ports.portal, path.join(sockDir, 'portal.sock'));
    closers.push(() => portalBridge.close());
    const deviceBridge: Bridge = await bridgeIntoNamespace(net.remote, v4, 80, ports.devicePortal, path.join(sockDir, 'device-portal.sock'));
    closers.push(() => deviceBridge.close());
    const device4Bridge: Bridge = await bridgeIntoNamespace(net.remote, v4, 81, ports.devicePortal4, path.join(sockDir, 'device-portal4.sock'));
    closers.push(() => device4Bridge.close());
    const device6Bridge: Bridge = await bridgeIntoNamespace(net.remote, v6, 82, ports.devicePortal6, path.join(sockDir, 'device-portal6.sock'));
    closers.push(() => device6Bridge.close());

    say(`dev portal in the cloud namespace on port 80 (both families), IPv4 only on ${v4}:81, IPv6 only on [${v6}]:82`);
    let portalChild: ChildProcess | null = null;
    const portal: StagePortal = {
      get process() { return portalChild; },
      async start() {
        if (portalChild) throw new Error('the dev portal is already running');
        const child = spawn('ip', ['netns', 'exec', net.cloud!, process.execPath, PORTAL_MAIN, '--host', '::', '--port', '80',
          '--account', `${OWNER.qnapId}:${OWNER.password}`, '--lease', String(opts.leaseSeconds ?? 60),
          ...(opts.leaseRenewSeconds ? ['--lease-renew', String(opts.leaseRenewSeconds)] : []),
          ...(opts.pageRenewSeconds ? ['--page-renew', String(opts.pageRenewSeconds)] : []),
          '--ipv4-only-port', '81', '--ipv6-only-port', '82', '--probe-urls', `http://${v4}:81,http://[${v6}]:82`,
          '--probe-urls-for', new URL(deviceBridge.url).host, `${device4Bridge.url},${device6Bridge.url}`,
          '--state', path.join(sockDir, 'portal-state.json')], { stdio: ['ignore', 'pipe', 'inherit'] });
        portalChild = child;
        child.once('exit', () => { if (portalChild === child) portalChild = null; });
        await new Promise<void>((resolve, reject) => {
          let out = '';
          const onData = (b: Buffer) => {
            out += b.toString();
            if (out.includes('dev portal on')) { child.stdout!.off('data', onData); resolve(); }
          };
          child.stdout!.on('data', onData);
          child.stdout!.resume();
          child.once('exit', code => reject(new Error(`dev portal exited with ${code}`)));
        });
      },
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        const child = portalChild;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>(r => child.once('exit', () => r()));
        // `ip netns exec` execs node in place, so the signal reaches the portal itself
        child.kill(signal);
        await exited;
      },
    };
    closers.push(() => portal.kill('SIGTERM'));
    await portal.start();
    const webBridge: Bridge = await bridgeIntoNamespace(net.nas, '127.0.0.1', 8080, ports.webUi, path.join(sockDir, 'web.sock'));
    closers.push(() => webBridge.close());
    const deviceWebBridge: Bridge = await bridgeIntoNamespace(net.remote, net.nasAddr[4], 8080, ports.deviceWebUi, path.join(sockDir, 'device-web.sock'));
    closers.push(() => deviceWebBridge.close());

    const token = crypto.randomBytes(24).toString('base64url');
    const daemon = makeDaemon(net.nas, {
      policy: { minSeconds: 60 },
      api: { http: { enabled: true, host: '127.0.0.1', port: ports.panel }, token, allowedHosts: ['127.0.0.1', 'localhost'], ...(opts.panelDir ? { panelDir: opts.panelDir } : {}) },
      ...opts.daemonConfig,
      // merged, not replaced: a test that tunes e.g. portal.leaseGraceSeconds keeps the portal's URL
      portal: { url: portalBridge.url, heartbeatSeconds: 2, reconnectMinSeconds: 0.5, reconnectMaxSeconds: 5,
        ...(opts.daemonConfig?.portal as Record<string, unknown> | undefined) },
    });
    say('daemon: enforcing inside the nas namespace, API on host loopback');
    // Registered before the start: a daemon that fails to start still leaves no folder behind.
    closers.push(async () => {
      if (daemon.process) await daemon.sipa('disable');
      await daemon.destroy();
    });
    await daemon.start();
    const http = JSON.parse(daemon.log.find(l => l.includes('"daemon ready"'))!).http as string;
    // The port it got is kept for restarts, so an open panel finds the daemon again where it was.
    const api = daemon.config.api as { http: { port: number } };
    api.http = { ...api.http, port: Number(new URL(http).port) };
    fs.writeFileSync(daemon.configPath, JSON.stringify(daemon.config, null, 2));

    say(`binding the NAS to ${OWNER.qnapId} with a pairing code from the portal`);
    const owner = new DevPortalClient(portalBridge.url);
    await owner.signIn(OWNER.qnapId, OWNER.password);
    const { code } = await owner.pairingCode();
    const bound = await daemon.sipa('bind', '--portal', portalBridge.url, '--code', code);
    if (bound.code !== 0) throw new Error(`sipa bind failed: ${bound.stderr}`);
    const nas = await owner.nases();
    const nasId = nas[0].nasId;
    return {
      net,
      daemon,
      portalUrl: portalBridge.url,
      portalPublicUrl: `http://${v4}`,
      portalPublicUrl6: `http://[${v6}]`,
      devicePortalUrl: deviceBridge.url,
      devicePortalProbeUrls: { 4: device4Bridge.url, 6: device6Bridge.url },
      deviceWebUiUrl: deviceWebBridge.url,
      webUiUrl: webBridge.url,
      panelUrl: `${http}/#token=${token}`,
      nasId,
      owner,
      portal,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
