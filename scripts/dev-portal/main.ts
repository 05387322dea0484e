// node dist/scripts/dev-portal/main.js --port P --host H --accounts FILE [--account ID:PASSWORD] [--state FILE]
//   [--lease SECONDS] [--lease-renew SECONDS] [--max-hours N] [--allow-address-override]
//   [--ipv4-only-port P] [--ipv6-only-port P] [--probe-urls URL4,URL6] [--probe-urls-for HOST URL4,URL6]... [--page-renew SECONDS]
import { loadAccounts, type Account } from './state';
import { startDevPortal, type DevPortalOptions } from './server';

function usage(message: string): never {
  process.stderr.write(`dev-portal: ${message}\nusage: node dist/scripts/dev-portal/main.js --port P [--host H] (--accounts FILE | --account QNAPID:PASSWORD)... [--state FILE] [--lease SECONDS] [--lease-renew SECONDS] [--max-hours N] [--allow-address-override] [--ipv4-only-port P] [--ipv6-only-port P] [--probe-urls URL4,URL6] [--probe-urls-for HOST URL4,URL6]... [--page-renew SECONDS]\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let port = 8480;
  let host = '127.0.0.1';
  let stateFile: string | undefined;
  let leaseSeconds: number | undefined;
  let maxHours: number | undefined;
  let allowAddressOverride = false;
  let leaseRenewSeconds: number | undefined;
  let pageRenewSeconds: number | undefined;
  let ipv4Only: DevPortalOptions['ipv4Only'];
  let ipv6Only: DevPortalOptions['ipv6Only'];
  const probeUrls: NonNullable<DevPortalOptions['probeUrls']> = { byHost: {} };
  const urlPair = (v: string): { 4: string | null; 6: string | null } => {
    const [u4, u6] = v.split(',');
    const one = (u: string | undefined): string | null => {
      if (!u) return null;
      try { return new URL(u).origin; } catch { return usage(`${JSON.stringify(u)} is not a URL`); }
    };
    return { 4: one(u4), 6: one(u6) };
  };
  const portOf = (v: string): number => {
    const p = Number(v);
    return Number.isInteger(p) && p >= 0 && p <= 65535 ? p : usage(`${JSON.stringify(v)} is not a port`);
  };
  const accounts: Account[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): string => args[++i] ?? usage(`${a} needs a value`);
    if (a === '--port') port = Number(value());
    else if (a === '--host') host = value();
    else if (a === '--accounts') accounts.push(...loadAccounts(value()));
    else if (a === '--account') {
      const v = value();
      const c = v.indexOf(':');
      if (c < 1) usage(`--account ${JSON.stringify(v)} should be QNAPID:PASSWORD`);
      accounts.push({ qnapId: v.slice(0, c), password: v.slice(c + 1) });
    } else if (a === '--state') stateFile = value();
    else if (a === '--lease') leaseSeconds = Number(value());
    else if (a === '--max-hours') maxHours = Number(value());
    else if (a === '--allow-address-override') allowAddressOverride = true;
    else if (a === '--lease-renew') leaseRenewSeconds = Number(value());
    else if (a === '--page-renew') pageRenewSeconds = Number(value());
    else if (a === '--ipv4-only-port') ipv4Only = { port: portOf(value()) };
    else if (a === '--ipv6-only-port') ipv6Only = { port: portOf(value()) };
    else if (a === '--probe-urls') Object.assign(probeUrls, urlPair(value()));
    else if (a === '--probe-urls-for') {
      const host = value();
      probeUrls.byHost![host] = urlPair(value());
    }
    else usage(`unknown argument ${JSON.stringify(a)}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage('--port must be 0..65535');
  if (accounts.length === 0) usage('give at least one account (--accounts FILE or --account ID:PASSWORD)');
  const portal = await startDevPortal({
    host, port, accounts, stateFile, leaseSeconds, leaseRenewSeconds, maxHours, allowAddressOverride, ipv4Only, ipv6Only, probeUrls, pageRenewSeconds,
    log: (l) => process.stdout.write(`${l}\n`),
  });
  process.stdout.write(`dev portal on ${portal.url} (accounts: ${accounts.map((x) => x.qnapId).join(', ')})\n`);
  const stop = (): void => { void portal.stop().then(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => { process.stderr.write(`dev-portal: ${(e as Error).message}\n`); process.exit(1); });
