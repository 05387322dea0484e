// The dev portal: plays myQNAPcloud for the demo and the tests. Web pages (pages.ts) and a JSON API (API.md),
// routed in routes.ts; the NAS side of module/cloud/PROTOCOL.md (nas-protocol.ts); devices with every address
// the portal saw (registrations.ts); sign-in (sessions.ts); the state (state.ts). Never shipped.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NasProtocol, type AckRecord } from './nas-protocol';
import { settingsOf, type DevPortalOptions } from './options';
import { Registrations } from './registrations';
import { Routes } from './routes';
import { Sessions } from './sessions';
import { LiveState, type PortalState } from './state';

export type { AckRecord, DevPortalOptions };

export interface DevPortal {
  url: string;
  port: number;
  /** The single-family listeners as this machine reaches them, or null where there is none. */
  ipv4OnlyUrl: string | null;
  ipv6OnlyUrl: string | null;
  publicKey: string;
  stop(): Promise<void>;
  /** Direct access for tests and the demo. */
  state: PortalState;
  acks: AckRecord[];
  reports: NasProtocol['reports'];
  connected(nasId: string): boolean;
  /** Signs and sends a command to a connected NAS now; returns the envelope, or null if not connected. */
  sendCommand(nasId: string, type: string, body: Record<string, unknown>, over?: Record<string, unknown>): Record<string, unknown> | null;
  /** Writes raw `data` as a command event on the NAS's stream (tests of refusals). */
  sendRaw(nasId: string, data: string): boolean;
  /** Resolves once a NAS acked seq (or rejects after timeoutMs). */
  waitForAck(nasId: string, seq: number, timeoutMs?: number): Promise<AckRecord>;
}

export async function startDevPortal(opts: DevPortalOptions): Promise<DevPortal> {
  const settings = settingsOf(opts);
  const { log } = settings;
  const live = new LiveState(opts.stateFile, settings.now);
  const { state } = live;
  const protocol = new NasProtocol(settings, live);
  const registrations = new Registrations(settings, live, protocol);
  const sessions = new Sessions(opts.accounts, settings, live, protocol, registrations);
  /** The single-family listeners as this machine reaches them (an unspecified host through loopback). */
  const probeListenUrl: { 4: string | null; 6: string | null } = { 4: null, 6: null };
  const routes = new Routes(settings, live, protocol, registrations, sessions, probeListenUrl);

  const server = http.createServer((req, res) => routes.serve(req, res));
  const renewTimer = setInterval(() => protocol.renewLeases(), settings.renewMs);
  renewTimer.unref();

  const probeServers: http.Server[] = [];
  const url = await listen(server, { port: opts.port, host: opts.host });
  const port = (server.address() as AddressInfo).port;
  for (const [family, listener] of [[4, opts.ipv4Only], [6, opts.ipv6Only]] as const) {
    if (!listener) continue;
    const host = listener.host ?? (family === 4 ? '0.0.0.0' : '::');
    const srv = http.createServer((req, res) => routes.serveProbe(family, req, res));
    probeServers.push(srv);
    const at = await listen(srv, { port: listener.port, host, ipv6Only: family === 6 });
    const loopback = family === 4 ? '127.0.0.1' : '[::1]';
    probeListenUrl[family] = host === '0.0.0.0' || host === '::' ? `http://${loopback}:${(srv.address() as AddressInfo).port}` : at;
    log(`dev portal: IPv${family}-only endpoint on ${at}`);
  }
  log(`dev portal: listening on ${url}; portal key ${state.key.publicKey}`);

  return {
    url, port, publicKey: state.key.publicKey, state, acks: protocol.acks, reports: protocol.reports,
    ipv4OnlyUrl: probeListenUrl[4],
    ipv6OnlyUrl: probeListenUrl[6],
    connected: (nasId) => protocol.connected(nasId),
    sendCommand: (nasId, type, body, over) => protocol.sendCommand(nasId, type, body, over),
    sendRaw: (nasId, data) => protocol.sendRaw(nasId, data),
    waitForAck: (nasId, seq, timeoutMs) => protocol.waitForAck(nasId, seq, timeoutMs),
    async stop() {
      clearInterval(renewTimer);
      protocol.closeStreams();
      live.save();
      await Promise.all([server, ...probeServers].map((srv) => new Promise<void>((resolve) => { srv.close(() => resolve()); srv.closeAllConnections(); })));
    },
  };
}

function listen(srv: http.Server, options: { port: number; host: string; ipv6Only?: boolean }): Promise<string> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(options, () => {
      srv.off('error', reject);
      const hostText = options.host.includes(':') ? `[${options.host}]` : options.host;
      resolve(`http://${hostText}:${(srv.address() as AddressInfo).port}`);
    });
  });
}
