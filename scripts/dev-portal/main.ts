// node dist/scripts/dev-portal/main.js --port P --host H --accounts FILE [--account ID:PASSWORD] [--state FILE]
//   [--lease SECONDS] [--max-hours N] [--allow-address-override]
import { loadAccounts, type Account } from './state';
import { startDevPortal } from './server';

function usage(message: string): never {
  process.stderr.write(`dev-portal: ${message}\nusage: node dist/scripts/dev-portal/main.js --port P [--host H] (--accounts FILE | --account QNAPID:PASSWORD)... [--state FILE] [--lease SECONDS] [--max-hours N] [--allow-address-override]\n`);
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
    else usage(`unknown argument ${JSON.stringify(a)}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage('--port must be 0..65535');
  if (accounts.length === 0) usage('give at least one account (--accounts FILE or --account ID:PASSWORD)');
  const portal = await startDevPortal({ host, port, accounts, stateFile, leaseSeconds, maxHours, allowAddressOverride, log: (l) => process.stdout.write(`${l}\n`) });
  process.stdout.write(`dev portal on ${portal.url} (accounts: ${accounts.map((x) => x.qnapId).join(', ')})\n`);
  const stop = (): void => { void portal.stop().then(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((e: unknown) => { process.stderr.write(`dev-portal: ${(e as Error).message}\n`); process.exit(1); });
