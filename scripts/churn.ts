// An hour of churn (issue 12's "no growth over an hour"): the packaged daemon (scripts/lib/packaged.ts) with
// 10,000 stored devices, 10 registrations and 10 revocations a second through its socket, its RSS once a
// minute. One JSON line per sample, then the figures. `bash scripts/node.sh dist/scripts/churn.js [SECONDS]`
// (default 3600); the bench runs the same for a minute (daemon.rss-after-churn).
import path from 'node:path';
import { addNamespace, removeNamespace } from './lib/netns';
import { makeDaemon } from './lib/daemon';
import { stagePackagedTree } from './lib/packaged';
import { fillStore } from './lib/fill-store';
import { churn, memoryOf } from './lib/churn';
import { sleep } from './lib/wait';

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3600);
  const tree = stagePackagedTree();
  const ns = addNamespace(`sipa-churn-${process.pid}`);
  const d = makeDaemon(ns, { firewall: { lan: [] }, reconcile: {}, policy: { ipv6Scope: 'address' } }, { launcher: tree.sipa });
  try {
    await fillStore(path.join(d.dir, 'data'), 10_000);
    await d.start();
    await d.sipaJson<unknown[]>('list');
    await sleep(5000);
    const pid = d.process!.pid!;
    const start = memoryOf(pid);
    const line = (name: string, n: number, value: number, unit: string) => process.stdout.write(`${JSON.stringify({ name, n, value: Math.round(value * 10) / 10, unit })}\n`);
    line('daemon.rss-before-churn', 10_000, start.rss, 'MiB');
    let peak = start.rss;
    const pairs = await churn(path.join(d.dir, 'run', 'sipa.sock'), seconds, 10, done => {
      const m = memoryOf(pid);
      peak = Math.max(peak, m.rss);
      line('daemon.rss-during-churn', done, m.rss, 'MiB');
    });
    await sleep(5000);
    const end = memoryOf(pid);
    line('daemon.rss-after-churn', pairs, end.rss, 'MiB');
    line('daemon.rss-churn-growth', pairs, end.rss - start.rss, 'MiB');
    line('daemon.rss-churn-peak', pairs, peak, 'MiB');
  } finally {
    await d.sipa('disable');
    await d.destroy();
    removeNamespace(ns);
    tree.remove();
  }
}

main().catch(err => {
  process.stderr.write(`churn failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
