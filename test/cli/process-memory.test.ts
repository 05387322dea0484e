// The daemon hands its start-up's code pages back to the page cache (module/cli/process-memory.ts): which
// mappings qualify, and, in a real Node process with the addons loaded, that the resident size of Node's
// binary falls and everything still runs afterwards (the addons, the store, code compiled after the drop).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { droppable, readMappings } from '../../module/cli/process-memory';

const SMAPS = `00400000-0074d000 r--p 00000000 fe:00 5505960                    /opt/node/bin/node
Rss:                3376 kB
Anonymous:             0 kB
0074d000-03081000 r-xp 0034d000 fe:00 5505960                    /opt/node/bin/node
Rss:               29148 kB
Anonymous:             0 kB
06b83000-06b87000 r--p 06782000 fe:00 5505960                    /opt/node/bin/node
Rss:                  16 kB
Anonymous:             8 kB
06b87000-06bae000 rw-p 06786000 fe:00 5505960                    /opt/node/bin/node
Rss:                 156 kB
Anonymous:           140 kB
0a000000-0a100000 rw-p 00000000 00:00 0                          [heap]
Rss:                1024 kB
Anonymous:          1024 kB
7f0000000000-7f0000100000 r--s 00000000 fe:00 77                 /var/sipa/shared.map
Rss:                  64 kB
Anonymous:             0 kB
7f0000100000-7f0000200000 r-xp 00000000 fe:00 78                 /opt/app/old.node (deleted)
Rss:                  64 kB
Anonymous:             0 kB
7f0000200000-7f0000300000 r--p 00000000 00:05 79                 /dev/zero
Rss:                  64 kB
Anonymous:             0 kB
7f0000300000-7f0000400000 r-xp 00000000 fe:00 80                 /lib/x86_64-linux-gnu/libc.so.6
Rss:                 900 kB
Anonymous:             0 kB
7f0000400000-7f0000500000 r--p 00000000 fe:00 81                 /lib/x86_64-linux-gnu/libm.so.6
Rss:                   0 kB
Anonymous:             0 kB
`;

describe('cli: unmapping clean code pages', () => {
  it('reads smaps into mappings', () => {
    const maps = readMappings(SMAPS);
    assert.equal(maps.length, 10);
    assert.deepEqual(maps[1], { start: 0x74d000n, end: 0x3081000n, perms: 'r-xp', path: '/opt/node/bin/node', rssKb: 29148, anonymousKb: 0 });
    assert.equal(maps[4].path, '[heap]');
  });

  it("takes only private read-only file mappings with no page of their own", () => {
    const chosen = readMappings(SMAPS).filter(droppable).map(m => `${m.perms} ${m.path}`);
    assert.deepEqual(chosen, ['r--p /opt/node/bin/node', 'r-xp /opt/node/bin/node', 'r-xp /lib/x86_64-linux-gnu/libc.so.6']);
  });

  it('in a real process: the binary resident size falls, and the addons, a store and new code still run', function () {
    this.timeout(30_000);
    const dist = path.resolve(__dirname, '..', '..');
    const script = `
      const fs = require('fs');
      const { readMappings, dropCleanFilePages } = require(${JSON.stringify(path.join(dist, 'module', 'cli', 'process-memory.js'))});
      const sqlite3 = require('sqlite3');
      require('koffi');
      require('netlink');
      const nodeKb = () => readMappings(fs.readFileSync('/proc/self/smaps', 'utf8'))
        .filter(m => m.path === fs.realpathSync(process.execPath)).reduce((n, m) => n + m.rssKb, 0);
      const before = nodeKb();
      const dropped = dropCleanFilePages();
      const after = nodeKb();
      const db = new sqlite3.Database(':memory:');
      db.get("select sqlite_version() v, upper('ok') u", (e, r) => {
        if (e) throw e;
        const late = new Function('x', 'return [...x].map(c => c.codePointAt(0).toString(16)).join(" ")')('späť');
        console.log(JSON.stringify({ before, after, dropped, sqlite: r.v, u: r.u, late, intl: new Intl.NumberFormat('de-DE').format(1234.5) }));
      });`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: path.resolve(dist, '..'), encoding: 'utf8' })) as
      { before: number; after: number; dropped: { mappings: number; kb: number }; sqlite: string; u: string; late: string; intl: string };
    assert.ok(out.dropped.mappings > 2 && out.dropped.kb > 10_000, `dropped ${JSON.stringify(out.dropped)}`);
    assert.ok(out.after < out.before / 2, `node's binary: ${out.before} kB resident before, ${out.after} kB after`);
    assert.match(out.sqlite, /^3\.\d+/);
    assert.equal(out.u, 'OK');
    assert.equal(out.late, '73 70 e4 165');
    assert.equal(out.intl, '1.234,5');
  });
});
