// A device on the internet using the portal: a process inside the remote namespace (so the portal sees the
// device's own address), driven line by line over stdin/stdout. Keeps its portal session between commands.
//   child:  node device.js PORTAL_URL      then lines {"op":"signin"|"register"|"register-seen"|"signout"|"nases", ...}
// "register-seen" is what the portal's page does: a sighting, the IPv4-only and IPv6-only endpoints, one registration.
import { spawn } from 'node:child_process';
import readline from 'node:readline';
import { DevPortalClient } from '../dev-portal/client';

export interface PortalDevice {
  call<T = unknown>(op: Record<string, unknown>): Promise<T>;
  close(): void;
}

export function startPortalDevice(ns: string, portalUrl: string): PortalDevice {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, __filename, portalUrl], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! });
  const waiting: Array<(line: string) => void> = [];
  lines.on('line', line => waiting.shift()?.(line));
  return {
    call<T>(op: Record<string, unknown>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        waiting.push(line => {
          const r = JSON.parse(line) as { ok: boolean; result?: T; error?: string };
          if (r.ok) resolve(r.result as T);
          else reject(new Error(r.error));
        });
        child.stdin!.write(`${JSON.stringify(op)}\n`);
      });
    },
    close() {
      child.stdin!.end();
      child.kill();
    },
  };
}

if (require.main === module) {
  const client = new DevPortalClient(process.argv[2]);
  const rl = readline.createInterface({ input: process.stdin });
  let chain = Promise.resolve();
  rl.on('line', line => {
    chain = chain.then(async () => {
      try {
        const op = JSON.parse(line) as { op: string; qnapId?: string; password?: string; nasId?: string; expiry?: 'session' | number; label?: string };
        let result: unknown;
        if (op.op === 'signin') result = await client.signIn(op.qnapId!, op.password!);
        else if (op.op === 'register') result = await client.register(op.nasId!, { expiry: op.expiry!, label: op.label });
        else if (op.op === 'register-seen') result = await client.registerSeen(op.nasId!, { expiry: op.expiry!, label: op.label });
        else if (op.op === 'signout') result = await client.signOut();
        else if (op.op === 'nases') result = await client.nases();
        else throw new Error(`unknown op ${op.op}`);
        process.stdout.write(`${JSON.stringify({ ok: true, result: result ?? null })}\n`);
      } catch (e) {
        process.stdout.write(`${JSON.stringify({ ok: false, error: (e as Error).message })}\n`);
      }
    });
  });
}
