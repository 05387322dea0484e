// The packages themselves: built once (twice, for the byte comparison), then for each QNAP arch folder
// installed into a fake QTS root that has no C library at all (static busybox + QTS shims, see fake-qts.sh),
// run there (x86_64 natively, ARM through qemu-user), upgraded, and removed without a trace.
// Everything lives under os.tmpdir() and is removed afterwards; commands run in their own network, pid and
// mount namespaces, so nothing reaches the host's firewall and nothing started inside outlives a step.
import { strict as assert } from 'node:assert';
import { spawnSync, SpawnSyncReturns } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..', '..');
const FAKE_QTS = path.join(REPO, 'test', 'packaging', 'fake-qts.sh');
const FOLDERS = ['x86_64', 'arm_64', 'arm-x41', 'arm-x31'] as const;
type Folder = (typeof FOLDERS)[number];
const CPU: Record<Folder, string> = { x86_64: 'x86_64', arm_64: 'aarch64', 'arm-x41': 'armhf', 'arm-x31': 'armhf' };
const LOADER: Record<string, string> = {
  x86_64: 'ld-linux-x86-64.so.2', aarch64: 'ld-linux-aarch64.so.1', armhf: 'ld-linux-armhf.so.3',
};
const NAME = 'SecureIPAccess';
const QPKG_ROOT = `/share/CACHEDEV1_DATA/.qpkg/${NAME}`;
const VERSION: string = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;

/** The check digits of the tail: the first 10 digits of size × 3589 + 1000000000 (PLATFORM.md, QPKG). */
export function qpkgCheckDigits(size: number): string {
  return (BigInt(size) * 3589n + 1000000000n).toString().slice(0, 10);
}

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}) {
  const r: SpawnSyncReturns<string> = spawnSync(cmd, args, {
    cwd: opts.cwd ?? REPO, env: opts.env ?? process.env, encoding: 'utf8',
    timeout: opts.timeoutMs ?? 10 * 60 * 1000, maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}`, stdout: r.stdout ?? '' };
}

function mustRun(cmd: string, args: string[], opts: Parameters<typeof sh>[2] = {}) {
  const r = sh(cmd, args, opts);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} exited ${r.code}:\n${r.out.slice(-4000)}`);
  return r;
}

/** Every path under root (but /proc), with its type, sorted. */
function fileList(root: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(root, rel)).sort()) {
      const r = `${rel}/${name}`;
      if (r === '/proc') continue;
      const st = fs.lstatSync(path.join(root, r));
      out.push(`${st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'f'} ${r}`);
      if (st.isDirectory()) walk(r);
    }
  };
  walk('');
  return out;
}

function isElf(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(4);
    return fs.readSync(fd, b, 0, 4, 0) === 4 && b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    fs.closeSync(fd);
  }
}

/** ELFs under dir whose LOAD segments are aligned below 64 KiB, with their alignments. */
function misalignedElves(dir: string): string[] {
  const bad: string[] = [];
  let count = 0;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && isElf(p)) {
        count++;
        const r = mustRun('readelf', ['-lW', p]);
        const aligns = r.stdout.split('\n').filter(l => /^\s*LOAD\s/.test(l)).map(l => parseInt(l.trim().split(/\s+/).pop()!, 16));
        if (aligns.length === 0 || aligns.some(a => a < 0x10000)) bad.push(`${p}: ${aligns.map(a => '0x' + a.toString(16)).join(',')}`);
      }
    }
  };
  walk(dir);
  assert.ok(count >= 5, `only ${count} ELF files under ${dir}`);
  return bad;
}

describe('packaging (QPKG per arch, rootfs overlay)', function () {
  this.timeout(20 * 60 * 1000);
  let tmp = '';
  const out1 = () => path.join(tmp, 'qpkg-1');
  const out2 = () => path.join(tmp, 'qpkg-2');
  const qpkg = (out: string, folder: Folder) => path.join(out, `${NAME}_${VERSION}_${folder}.qpkg`);
  // Builds run on a snapshot of the working tree (others may be editing it meanwhile) with pinned inputs,
  // sharing the repository's download/addon cache.
  const src = () => path.join(tmp, 'src');
  const buildEnv = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
    ...process.env, SOURCE_DATE_EPOCH: '1700000000', SIPA_COMMIT: 'packaging-test',
    SIPA_CACHE: path.join(REPO, 'build', 'cache'),
    SIPA_PLACEHOLDER_HELPER: fs.existsSync(path.join(REPO, 'native', 'Makefile')) ? '0' : '1', ...extra,
  });

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-packaging-'));
    fs.mkdirSync(src());
    mustRun('bash', ['-c', 'tar -C "$1" --exclude=./build --exclude=./dist --exclude=./node_modules --exclude=./.git ' +
      '--exclude=./native/build -cf - . | tar -C "$2" -xf -', 'snapshot', REPO, src()]);
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(src(), 'node_modules'));
    for (const out of [out1(), out2()]) {
      const t0 = Date.now();
      const r = mustRun('bash', ['scripts/build-qpkg.sh'], { cwd: src(), env: buildEnv({ SIPA_OUT: out }) });
      console.log(`      build-qpkg.sh (${Math.round((Date.now() - t0) / 1000)} s):\n` +
        r.stdout.split('\n').filter(l => /^\s+\S+\s+\S+\.qpkg|built in/.test(l)).join('\n'));
    }
  });

  after(function () {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('computes the tail check digits as QDK does (45,591 bytes → 1163626099)', function () {
    assert.equal(qpkgCheckDigits(45591), '1163626099');
    const r = mustRun('bash', ['-c', `. scripts/packaging/qpkg-format.sh; qpkg_check_digits 45591`]);
    assert.equal(r.stdout, '1163626099');
  });

  it('builds byte-identical QPKGs twice from the same sources', function () {
    for (const folder of FOLDERS) {
      const a = fs.readFileSync(qpkg(out1(), folder));
      const b = fs.readFileSync(qpkg(out2(), folder));
      const h = (x: Buffer) => crypto.createHash('sha256').update(x).digest('hex');
      assert.equal(h(a), h(b), `${folder}: the two builds differ`);
    }
  });

  for (const folder of FOLDERS) {
    it(`${folder}: tail fields, check digits and the header's own lengths agree with the file`, function () {
      const file = qpkg(out1(), folder);
      const buf = fs.readFileSync(file);
      const size = buf.length;
      const tail = buf.subarray(size - 100).toString('latin1');
      assert.equal(tail.slice(90), 'QNAPQPKG  ');
      assert.equal(tail.slice(60, 80), NAME.padEnd(20));
      assert.equal(tail.slice(80, 90), VERSION.padEnd(10));
      assert.equal(buf.subarray(size - 60, size - 50).toString('latin1'), qpkgCheckDigits(size), 'check digits at −60');
      // As QDK's tools read a package: eval the header's script_len= and offset= lines up to "exit 1".
      const head = buf.subarray(0, 8192).toString('latin1').split('\n');
      const stop = head.findIndex(l => /^exit 1/.test(l));
      assert.ok(stop > 0, 'header ends with "exit 1"');
      const lines = head.slice(0, stop).filter(l => /^(script_len|offset)/.test(l)).map(l => l + ';').join('\n');
      const r = mustRun('sh', ['-c', `${lines}\necho "$script_len $offset"`]);
      const [scriptLen, contentEnd] = r.stdout.trim().split(/\s+/).map(Number);
      assert.equal(buf.subarray(scriptLen - 7, scriptLen).toString('latin1'), 'exit 1\n', 'script_len ends the header');
      assert.equal(contentEnd, size - 100, 'header + control.tar + data.tar.gz end where the tail begins');
    });
  }

  for (const folder of FOLDERS) {
    describe(`${folder} in a fake QTS root (no C library; ${folder === 'x86_64' ? 'native' : 'qemu-user'})`, function () {
      let root = '';
      let before0: string[] = [];
      const inRoot = (cmd: string, env: NodeJS.ProcessEnv = {}) =>
        sh('bash', [FAKE_QTS, 'run', root, folder, cmd], { env: { ...process.env, ...env }, timeoutMs: 5 * 60 * 1000 });
      const getcfg = (key: string) => inRoot(`/sbin/getcfg ${NAME} ${key} -f /etc/config/qpkg.conf`).stdout.trim();

      before(function () {
        root = path.join(tmp, `root-${folder}`);
        mustRun('bash', [FAKE_QTS, 'create', root, folder]);
        before0 = fileList(root);
        fs.copyFileSync(qpkg(out1(), folder), path.join(root, 'share/CACHEDEV1_DATA/Public/a.qpkg'));
        fs.copyFileSync(qpkg(out2(), folder), path.join(root, 'share/CACHEDEV1_DATA/Public/b.qpkg'));
      });
      after(function () {
        if (root) fs.rmSync(root, { recursive: true, force: true });
      });

      if (folder === 'arm-x31' || folder === 'arm-x41') {
        it('refuses a NAS of the other ARM platform family', function () {
          const other = folder === 'arm-x31' ? 'ARM_AL_ALPINE' : 'ARM_MS_ARMADA';
          fs.writeFileSync(path.join(root, 'etc/platform.conf'), `Platform = ${other}\n`);
          const r = inRoot('cd /share/CACHEDEV1_DATA/Public && sh a.qpkg');
          fs.writeFileSync(path.join(root, 'etc/platform.conf'),
            `Platform = ${folder === 'arm-x31' ? 'ARM_MS_ARMADA' : 'ARM_AL_ALPINE'}\n`);
          assert.equal(r.code, 1, r.out);
          assert.match(r.out, /incompatible/);
          assert.equal(fs.existsSync(path.join(root, QPKG_ROOT)), false);
        });
      }

      it('installs by running the .qpkg with sh (header → control → data → qinstall.sh)', function () {
        const r = inRoot('cd /share/CACHEDEV1_DATA/Public && sh a.qpkg');
        assert.equal(r.code, 10, `install exited ${r.code} (10 = done, package file may go):\n${r.out}`);
        assert.equal(getcfg('Install_Path'), QPKG_ROOT);
        assert.equal(getcfg('Version'), VERSION);
        assert.equal(getcfg('Enable'), 'TRUE');
        assert.equal(getcfg('Shell'), `${QPKG_ROOT}/sipa.sh`);
        assert.equal(getcfg('Use_Proxy'), '1');
        assert.equal(getcfg('Proxy_Path'), '/sipa');
        assert.equal(fs.readlinkSync(path.join(root, 'etc/init.d/sipa.sh')), `${QPKG_ROOT}/sipa.sh`);
        assert.ok(fs.lstatSync(path.join(root, `etc/rcS.d/QS140${NAME}`)).isSymbolicLink());
        assert.equal(fs.readlinkSync(path.join(root, `home/httpd/RSS/images/${NAME}_80.gif`)), `${QPKG_ROOT}/.qpkg_icon_80.gif`);
        assert.equal(fs.readlinkSync(path.join(root, `home/httpd/cgi-bin/qpkg/${NAME}`)), `${QPKG_ROOT}/web`);
        const cfg = JSON.parse(fs.readFileSync(path.join(root, QPKG_ROOT, 'etc/sipa.json'), 'utf8'));
        assert.equal(cfg.dataDir, '/mnt/boot_config/sipa');
        assert.ok(fs.existsSync(path.join(root, QPKG_ROOT, '.uninstall.sh')));
        assert.equal(fs.readdirSync(path.join(root, 'share/CACHEDEV1_DATA/.qpkg')).join(','), NAME, 'no scratch dir left');
      });

      it('runs the bundled Node with koffi + native helper, sqlite3 and netlink on the bundled glibc', function () {
        const cpu = CPU[folder];
        const script = [
          `const nm = '${QPKG_ROOT}/app/node_modules/';`,
          `const koffi = require(nm + 'koffi'); koffi.load('${QPKG_ROOT}/app/native/build/${cpu}/libsipa.so');`,
          `const sqlite3 = require(nm + 'sqlite3'); require(nm + 'netlink');`,
          `new sqlite3.Database(':memory:').get('select sqlite_version() v', (e, r) => { if (e) throw e;`,
          ` console.log(process.arch, process.version, 'sqlite', r.v, 'glibc', process.report.getReport().header.glibcVersionRuntime); });`,
        ].join('\n');
        fs.writeFileSync(path.join(root, 'tmp/runtime-check.js'), script);
        const r = inRoot(`$SIPA_EMULATOR ${QPKG_ROOT}/lib/${LOADER[cpu]} --inhibit-cache --library-path ${QPKG_ROOT}/lib ` +
          `${QPKG_ROOT}/bin/node /tmp/runtime-check.js`);
        fs.rmSync(path.join(root, 'tmp/runtime-check.js'));
        assert.equal(r.code, 0, r.out);
        assert.match(r.stdout, /sqlite 3\.\d+/);
        assert.match(r.stdout, /glibc 2\.3\d/);
      });

      if (folder === 'arm_64') {
        it('has every arm64 ELF aligned for 64 KiB pages (node, loader, C libraries, addons, helper)', function () {
          assert.deepEqual(misalignedElves(path.join(root, QPKG_ROOT)), []);
        });
      }

      it('passes `sipa selftest` (Node, koffi, helper, sqlite3, netlink, scratch store)', function () {
        const r = inRoot(`${QPKG_ROOT}/bin/sipa selftest`);
        assert.equal(r.code, 0, `sipa selftest exited ${r.code}:\n${r.out.slice(-3000)}`);
      });

      it('upgrades to the second build keeping the config and the data dir', function () {
        fs.mkdirSync(path.join(root, 'mnt/boot_config/sipa'), { recursive: true });
        fs.writeFileSync(path.join(root, 'mnt/boot_config/sipa/kept.marker'), 'store\n');
        const cfgPath = path.join(root, QPKG_ROOT, 'etc/sipa.json');
        const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
        cfg.log = { level: 'debug' };
        const edited = JSON.stringify(cfg, null, 2) + '\n';
        fs.writeFileSync(cfgPath, edited);
        fs.writeFileSync(path.join(root, QPKG_ROOT, 'app/stale-file-from-old-version'), '');
        const r = inRoot('cd /share/CACHEDEV1_DATA/Public && sh b.qpkg');
        assert.equal(r.code, 10, r.out);
        assert.match(r.out, /upgrading/);
        assert.equal(fs.readFileSync(cfgPath, 'utf8'), edited, 'config kept');
        assert.equal(fs.readFileSync(path.join(root, 'mnt/boot_config/sipa/kept.marker'), 'utf8'), 'store\n', 'data kept');
        assert.equal(fs.existsSync(path.join(root, QPKG_ROOT, 'app/stale-file-from-old-version')), false, 'runtime replaced');
        assert.equal(getcfg('Install_Path'), QPKG_ROOT);
        assert.equal(getcfg('Enable'), 'TRUE');
      });

      it('service script: status, stop, start refused when disabled in App Center', function () {
        inRoot(`${QPKG_ROOT}/sipa.sh stop`);
        const st = inRoot(`${QPKG_ROOT}/sipa.sh status`);
        assert.equal(st.code, 3, st.out);
        mustRun('bash', [FAKE_QTS, 'run', root, folder, `/sbin/setcfg ${NAME} Enable FALSE -f /etc/config/qpkg.conf`]);
        const r = inRoot(`/etc/init.d/sipa.sh start`);
        assert.notEqual(r.code, 0);
        assert.match(r.out, /disabled/);
        mustRun('bash', [FAKE_QTS, 'run', root, folder, `/sbin/setcfg ${NAME} Enable TRUE -f /etc/config/qpkg.conf`]);
      });

      it('uninstalls leaving the fake root exactly as it was', function () {
        const r = inRoot(`sh ${QPKG_ROOT}/.uninstall.sh`);
        assert.equal(r.code, 0, r.out);
        const after0 = fileList(root).filter(l => !l.endsWith('/Public/a.qpkg') && !l.endsWith('/Public/b.qpkg'));
        assert.deepEqual(after0, before0);
        const conf = fs.readFileSync(path.join(root, 'etc/config/qpkg.conf'), 'utf8');
        assert.doesNotMatch(conf, new RegExp(`\\[${NAME}\\]`));
        assert.match(conf, /\[QuFirewall\]/);
      });
    });
  }

  describe('rootfs overlay (arm_64)', function () {
    const ov = (n: number) => path.join(tmp, `overlay-${n}`);
    before(function () {
      for (const n of [1, 2]) {
        const r = mustRun('bash', ['scripts/build-overlay.sh'], { cwd: src(), env: buildEnv({ SIPA_OUT: ov(n), SIPA_ARCHES: 'arm_64' }) });
        if (n === 1) console.log(r.stdout.split('\n').filter(l => /overlay_|built in/.test(l)).join('\n'));
      }
    });

    it('builds byte-identical overlay archives twice', function () {
      const f = `sipa-overlay_${VERSION}_arm_64.tar.gz`;
      assert.ok(fs.readFileSync(path.join(ov(1), f)).equals(fs.readFileSync(path.join(ov(2), f))));
    });

    it('has the runtime, init script, default config, panel registration and a manifest of every file', function () {
      const o = path.join(ov(1), 'arm_64');
      for (const p of ['etc/init.d/sipa.sh', 'usr/local/sipa/bin/sipa', 'usr/local/sipa/bin/node', 'usr/local/sipa/sipa.sh',
        'usr/local/sipa/lib/ld-linux-aarch64.so.1', 'usr/local/sipa/etc/sipa.json', 'usr/local/sipa/etc/panel.conf']) {
        assert.ok(fs.existsSync(path.join(o, p)), `${p} missing`);
      }
      const manifest = fs.readFileSync(path.join(o, 'MANIFEST.sha256'), 'utf8').trim().split('\n');
      const files = fileList(o).filter(l => l.startsWith('f ') && l !== 'f /MANIFEST.sha256').map(l => l.slice(2));
      assert.deepEqual(manifest.map(l => l.slice(66)), files);
      for (const line of manifest) {
        const [sum, p] = [line.slice(0, 64), line.slice(66)];
        assert.equal(crypto.createHash('sha256').update(fs.readFileSync(path.join(o, p))).digest('hex'), sum, p);
      }
      assert.equal(JSON.parse(fs.readFileSync(path.join(o, 'usr/local/sipa/etc/sipa.json'), 'utf8')).dataDir, '/mnt/boot_config/sipa');
      assert.deepEqual(misalignedElves(path.join(o, 'usr/local/sipa')), []);
    });
  });
});
