// Whether the Node.js this runs on still gets security fixes: `sipa status` and `sipa doctor` say when it does
// not (the 32-bit ARM packages ship Node 20.11.0, the last armv7l build on the npm registry; qpkg/README.md).
import type { RuntimeSupport } from '../engine';

/**
 * End of life of the Node.js release lines, from the Node.js release schedule
 * (https://github.com/nodejs/Release#release-schedule; each LTS line ends on April 30 of its fourth year).
 */
const END_OF_LIFE: Record<number, string> = {
  18: '2025-04-30',
  20: '2026-04-30',
  22: '2027-04-30',
  24: '2028-04-30',
  26: '2029-04-30',
};

export function runtimeSupport(version: string = process.version, now: number = Date.now()): RuntimeSupport {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  const endOfLife = END_OF_LIFE[major] ?? null;
  // A line ends with its last day (UTC).
  return { node: version, endOfLife, pastEndOfLife: endOfLife !== null && now >= Date.parse(endOfLife) + 86_400_000 };
}
