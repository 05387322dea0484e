// Uninstall removes only what the package made, whatever a config names. Hostile configs name the NAS's own
// folders (/etc/config, /mnt/boot_config, /usr/local, a share, the volume above the install dir) as the data or
// run dir; `sipa uninstall-cleanup` and the fallback in sipa.sh's remove verb must leave them as they were.
// Each case runs chrooted into an overlay of / (upper layer on a tmpfs) in a private mount namespace: the
// NAS's paths can be made and deleted there, and nothing reaches the host's files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addNamespace, removeNamespace } from '../../scripts/lib/netns';

const REPO = path.resolve(__dirname, '..', '..', '..');
const MAIN = path.join(REPO, 'dist', 'module', 'cli', 'main.js');
const OWN_DIRS = path.join(REPO, 'dist', 'module', 'cli', 'own-dirs.js');
const QPKG_ROOT = '/share/CACHEDEV1_DATA/.qpkg/SecureIPAccess';

/** The NAS's folders with something of their own in them, and a share with a user's file. */
const NAS_TREE = `
mkdir -p /etc/config /mnt/boot_config /usr/local/bin /share/CACHEDEV1_DATA/Public ${QPKG_ROOT}/etc ${QPKG_ROOT}/bin
echo '[System]' > /etc/config/uLinux.conf
echo 'flash' > /mnt/boot_config/other.conf
echo 'tool' > /usr/local/bin/nas-tool
echo 'photo' > /share/CACHEDEV1_DATA/Public/photo.jpg
`;
const SURVIVORS = ['/etc/config/uLinux.conf', '/mnt/boot_config/other.conf', '/usr/local/bin/nas-tool', '/share/CACHEDEV1_DATA/Public/photo.jpg'];
const LIST = `for f in ${SURVIVORS.join(' ')}; do [ -f "$f" ] && echo "kept $f" || echo "LOST $f"; done`;

function inOverlayRoot(work: string, script: string): { code: number; out: string } {
  const outer = [
    'set -e',
    `mount -t tmpfs sipa-overlay "${work}"`,
    `mkdir "${work}/upper" "${work}/work" "${work}/root"`,
    `mount -t overlay overlay -o lowerdir=/,upperdir="${work}/upper",workdir="${work}/work" "${work}/root"`,
    `for m in proc dev sys run; do mount --rbind "/$m" "${work}/root/$m"; done`,
    `exec chroot "${work}/root" /bin/sh -c "$1"`,
  ].join('\n');
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', outer, 'overlay', `set -e\n${NAS_TREE}\nset +e\n${script}`], {
    encoding: 'utf8', timeout: 60_000,
  });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe('uninstall: only what the package made', function () {
  this.timeout(60000);
  let ns: string;
  let work: string;

  before(() => {
    ns = addNamespace(`sipa-unin-${process.pid}`);
  });
  after(() => removeNamespace(ns));
  beforeEach(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-overlay-'));
  });
  afterEach(() => {
    fs.rmdirSync(work);
    for (const p of ['/share', '/etc/config', '/mnt/boot_config/other.conf']) assert.equal(fs.existsSync(p), false, `${p} leaked onto the host`);
  });

  const config = (dataDir: string, runDir: string) => JSON.stringify({ dataDir, runDir, netns: ns });

  for (const [dataDir, runDir] of [
    ['/etc/config', '/mnt/boot_config'],
    ['/usr/local', '/share/CACHEDEV1_DATA/Public'],
    ['/share/CACHEDEV1_DATA/Public', '/usr/local/bin'],
    [`${QPKG_ROOT}/../..`, '/etc/config'],
  ]) {
    it(`sipa uninstall-cleanup with dataDir ${dataDir} and runDir ${runDir} removes neither`, () => {
      const r = inOverlayRoot(work, [
        // A store the service left there (ours by name), and forged markers: one of another user, one naming elsewhere.
        `echo db > ${dataDir}/sipa.db`,
        `echo /share/CACHEDEV1_DATA/Public > /share/CACHEDEV1_DATA/Public/.sipa-owned; chown 65534 /share/CACHEDEV1_DATA/Public/.sipa-owned`,
        'echo /mnt/boot_config/sipa > /mnt/boot_config/.sipa-owned',
        `echo '${config(dataDir, runDir)}' > /tmp/hostile.json`,
        `node ${MAIN} uninstall-cleanup --config /tmp/hostile.json; echo "exit $?"`,
        `[ -e ${dataDir}/sipa.db ] && echo "store file kept" || echo "store file removed"`,
        LIST,
      ].join('\n'));
      assert.match(r.out, /exit 1/, r.out);
      assert.doesNotMatch(r.out, /LOST/, r.out);
      for (const f of SURVIVORS) assert.match(r.out, new RegExp(`kept ${f}`), r.out);
      const name = dataDir.replace(/\./g, '\\.');
      if (path.resolve(dataDir) === '/share/CACHEDEV1_DATA') {
        assert.match(r.out, new RegExp(`not removing ${name}: it is a system folder`), r.out);
      } else {
        assert.match(r.out, new RegExp(`not removing ${name}: this package did not make it \\(no \\.sipa-owned marker naming it\\); removed only the service's own files in it: sipa\\.db`), r.out);
        assert.match(r.out, /store file removed/);
      }
    });
  }

  it('sipa uninstall-cleanup removes the folders the daemon made (marked), and marked parents left empty', () => {
    const r = inOverlayRoot(work, [
      `node -e "const o = require('${OWN_DIRS}'); o.ownFolder('/mnt/boot_config/sipa'); o.ownFolder('/tmp/sipa-x/run')"`,
      'echo db > /mnt/boot_config/sipa/sipa.db; echo 1 > /tmp/sipa-x/run/sipa.pid',
      `echo '${config('/mnt/boot_config/sipa', '/tmp/sipa-x/run')}' > /tmp/own.json`,
      `node ${MAIN} uninstall-cleanup --config /tmp/own.json; echo "exit $?"`,
      'for d in /mnt/boot_config/sipa /tmp/sipa-x /mnt/boot_config; do [ -e "$d" ] && echo "present $d" || echo "absent $d"; done',
      LIST,
    ].join('\n'));
    assert.match(r.out, /exit 0/, r.out);
    assert.match(r.out, /absent \/mnt\/boot_config\/sipa/, r.out);
    assert.match(r.out, /absent \/tmp\/sipa-x/, r.out);
    assert.match(r.out, /present \/mnt\/boot_config\n/, r.out);
    assert.doesNotMatch(r.out, /LOST/, r.out);
  });

  for (const [dataDir, gone] of [[`${QPKG_ROOT}/../..`, false], ['/mnt/boot_config', false], ['/share/CACHEDEV1_DATA/Public', false], ['/mnt/boot_config/sipa', true]] as const) {
    it(`the fallback of sipa.sh remove (uninstall-cleanup failing) with dataDir ${dataDir} ${gone ? 'removes the marked folder' : 'removes nothing'}`, () => {
      const r = inOverlayRoot(work, [
        `node -e "require('${OWN_DIRS}').ownFolder('/mnt/boot_config/sipa')"`,
        'echo /share/CACHEDEV1_DATA/Public > /share/CACHEDEV1_DATA/Public/.sipa-owned; chown 65534 /share/CACHEDEV1_DATA/Public/.sipa-owned',
        `printf '{\\n  "dataDir": "${dataDir}",\\n  "runDir": "/var/run/sipa"\\n}\\n' > ${QPKG_ROOT}/etc/sipa.json`,
        `printf '#!/bin/sh\\nexit 1\\n' > ${QPKG_ROOT}/bin/sipa; chmod 755 ${QPKG_ROOT}/bin/sipa`,
        `cp ${REPO}/qpkg/sipa.sh ${QPKG_ROOT}/sipa.sh`,
        // QTS's getcfg, as far as sipa.sh asks it here: where the package is installed.
        `printf '#!/bin/sh\\necho ${QPKG_ROOT}\\n' > /sbin/getcfg; chmod 755 /sbin/getcfg`,
        `sh ${QPKG_ROOT}/sipa.sh remove 2>&1`,
        `[ -d ${QPKG_ROOT} ] && echo "install dir kept" || echo "install dir LOST"`,
        '[ -e /mnt/boot_config/sipa ] && echo "marked present" || echo "marked absent"',
        LIST,
      ].join('\n'));
      assert.doesNotMatch(r.out, /LOST/, r.out);
      assert.match(r.out, /SecureIPAccess: sipa uninstall-cleanup failed/, r.out);
      if (gone) {
        assert.match(r.out, /marked absent/, r.out);
      } else {
        assert.match(r.out, /marked present/, r.out);
        assert.match(r.out, new RegExp(`SecureIPAccess: not removing ${dataDir.replace(/\./g, '\\.')}: the package did not make it`), r.out);
      }
    });
  }
});
