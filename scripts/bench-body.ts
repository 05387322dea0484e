// `node dist/scripts/bench-body.js`: what refusing duplicate members costs the API on its largest body (a batch
// of 65,536 devices, as `sipa register --from FILE` sends it), against JSON.parse of the same text in the same
// run. Prints one JSON line per figure: {"name", "n", "value", "unit"}. Not a test: no limits here.
import { duplicateMember } from '../module/cloud/canonical';

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const best = (runs: number, fn: () => void) => Math.min(...Array.from({ length: runs }, () => {
  const t0 = process.hrtime.bigint();
  fn();
  return ms(t0);
}));

for (const n of [1000, 65536]) {
  const devices = Array.from({ length: n }, (_, i) => ({
    address: `203.0.${(i >> 8) & 255}.${i & 255}`, label: `device ${i}`, expiry: { policy: 'fixed', seconds: 3600 },
  }));
  const text = JSON.stringify({ devices });
  const parse = best(7, () => JSON.parse(text));
  const scan = best(7, () => {
    if (duplicateMember(text) !== null) throw new Error('no duplicate expected');
  });
  for (const [name, value, unit] of [['body.json-parse', parse, 'ms'], ['body.duplicate-scan', scan, 'ms'], ['body.scan-vs-parse', scan / parse, 'x']] as const) {
    process.stdout.write(`${JSON.stringify({ name, n, bytes: text.length, value: Math.round(value * 1000) / 1000, unit })}\n`);
  }
}
