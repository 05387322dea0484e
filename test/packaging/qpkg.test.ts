// The packages themselves: built once for every arch (plus an x86_64 twin for the byte comparison, and the
// arm_64 and x86_64 overlays, side by side), repacked with a newer QPKG_VER for the upgrade, then for each QNAP
// arch folder installed into a fake QTS root that has no C library at all (static busybox + QTS shims, see
// fake-qts.sh), run there (x86_64 natively, ARM through qemu-user; the four installs run in parallel),
// upgraded, and removed without a trace. On x86_64 also: the panel through a QTS-like reverse proxy, and a fake
// root carrying the firmware overlay, where the package takes the service over and gives it back.
// Everything lives under os.tmpdir() and is removed afterwards; commands run in their own pid and mount
// namespaces and in a network namespace this test creates per arch (a `sleep` holding it, killed at the
// end), so nothing reaches the host's firewall, nothing started inside outlives a step, and the test can
// look at the kernel rules and sets from outside.
import { strict as assert } from 'node:assert';
import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
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
/** The upgrade's QPKG_VER: the last number of VERSION plus one (the first build repacked under it). */
const UPGRADE_VERSION = VERSION.replace(/(\d+)(?!.*\d)/, n => String(Number(n) + 1));
const PANEL_FILES = ['index.html', 'sipa-panel.js', 'host.js', 'host.css', 'manifest.json', 'icon.svg'];
/** The data archive's name inside the package (QDK's qinstall.sh picks the decompressor by it). */
const DATA_ARCHIVE = 'data.tar.xz';
/** QNAP's QDK (GPL), whose own tools check the packages: $SIPA_QDK, else ../shared/vendor/QDK beside the repository. */
const QDK = process.env.SIPA_QDK ?? path.resolve(REPO, '..', 'shared', 'vendor', 'QDK');
const QBUILD = path.join(QDK, 'shared', 'bin', 'qbuild');
const QPKG_ENCRYPT_C = path.join(QDK, 'src', 'qpkg_encrypt.c');

/** The check digits of the tail: the first 10 digits of size × 3589 + 1000000000 (qpkg/platform.md, QPKG). */
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

/** sh() without blocking: for the steps that run side by side. */
function shAsync(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}) {
  return new Promise<{ code: number; out: string; stdout: string }>((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 10 * 60 * 1000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code: code ?? -1, out: stdout + stderr, stdout }); });
  });
}

async function mustRunAsync(cmd: string, args: string[], opts: Parameters<typeof sh>[2] = {}) {
  const r = await shAsync(cmd, args, opts);
  assert.equal(r.code, 0, `${cmd} ${args.join(' ')} exited ${r.code}:\n${r.out.slice(-4000)}`);
  return r;
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

/** A command run on the host inside the network namespace at nsPath; its stdout. */
function inNetnsOf(nsPath: string, cmd: string[]): string {
  return mustRun('nsenter', [`--net=${nsPath}`, ...cmd]).stdout;
}

/** A network namespace held by a `sleep` (killed by the caller): what the fake NAS's steps join. */
async function holdNetns(): Promise<ChildProcess> {
  const holder = spawn('unshare', ['--net', 'sleep', '3600'], { stdio: 'ignore' });
  const ours = fs.readlinkSync('/proc/self/ns/net');
  for (let i = 0; ; i++) {  // until unshare has made the namespace and exec'd sleep
    let ns = '';
    try { ns = fs.readlinkSync(`/proc/${holder.pid}/ns/net`); } catch { /* not yet */ }
    if (ns && ns !== ours) return holder;
    assert.ok(i < 100 && holder.exitCode === null, 'unshare --net did not make a network namespace');
    await new Promise(r => setTimeout(r, 50));
  }
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

/** What the parallel first stage recorded for one arch: refusal (ARM), install, runtime check, selftest. */
interface FirstStage {
  refusal?: ReturnType<typeof sh>;
  install: ReturnType<typeof sh>;
  runtime: ReturnType<typeof sh>;
  selftest: ReturnType<typeof sh>;
}

describe('packaging (QPKG per arch, rootfs overlay)', function () {
  this.timeout(40 * 60 * 1000);
  let tmp = '';
  const out1 = () => path.join(tmp, 'qpkg-1');   // every arch, VERSION
  const out2 = () => path.join(tmp, 'qpkg-2');   // the x86_64 twin, VERSION
  const outUp = () => path.join(tmp, 'qpkg-up'); // out1 repacked as UPGRADE_VERSION
  const ov = () => path.join(tmp, 'overlay');
  const qpkg = (out: string, folder: Folder, version = VERSION) => path.join(out, `${NAME}_${version}_${folder}.qpkg`);
  const rootOf = (folder: Folder) => path.join(tmp, `root-${folder}`);
  const netns: Partial<Record<Folder, ChildProcess>> = {};
  const first: Partial<Record<Folder, FirstStage>> = {};
  // Builds run on a snapshot of the working tree (others may be editing it meanwhile) with pinned inputs,
  // sharing the repository's download/addon cache.
  const src = () => path.join(tmp, 'src');
  const buildEnv = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({
    ...process.env, SOURCE_DATE_EPOCH: '1700000000', SIPA_COMMIT: 'packaging-test',
    SIPA_CACHE: path.join(REPO, 'build', 'cache'),
    ...extra,
  });
  const fakeEnv = (folder: Folder): NodeJS.ProcessEnv => ({ ...process.env, FAKE_NETNS: `/proc/${netns[folder]!.pid}/ns/net` });
  const inRootAsync = (folder: Folder, cmd: string) =>
    shAsync('bash', [FAKE_QTS, 'run', rootOf(folder), folder, cmd], { env: fakeEnv(folder), timeoutMs: 5 * 60 * 1000 });
  /** Run on the host inside the arch's network namespace (iptables-legacy-save, ipset). */
  const inNetns = (folder: Folder, cmd: string[]) => mustRun('nsenter', [`--net=/proc/${netns[folder]!.pid}/ns/net`, ...cmd]);
  const took = (t0: number) => `${Math.round((Date.now() - t0) / 1000)} s`;

  /** QDK's qbuild as a developer runs it off the NAS: its scripts and templates from the QDK tree. */
  const qbuild = (args: string[]) => sh('bash', [QBUILD, ...args], {
    cwd: tmp, env: { ...process.env, QDK_SCRIPTS_DIR: path.join(QDK, 'shared', 'scripts'), QDK_TEMPLATE_DIR: path.join(QDK, 'shared', 'template') },
  });
  const qpkgEncrypt = () => path.join(tmp, 'qpkg_encrypt');

  before(async function () {
    for (const f of [QBUILD, QPKG_ENCRYPT_C]) {
      if (!fs.existsSync(f)) {
        throw new Error(`QNAP's QDK is missing: no ${f}. The packaging tests check the packages with QDK's own qbuild and ` +
          'qpkg_encrypt.c (qnap-dev/QDK v2.5.3); put QDK at ../shared/vendor/QDK beside the repository or set SIPA_QDK to its folder.');
      }
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-packaging-'));
    mustRun('cc', ['-o', qpkgEncrypt(), QPKG_ENCRYPT_C]);
    fs.mkdirSync(src());
    mustRun('bash', ['-c', 'tar -C "$1" --exclude=./build --exclude=./dist --exclude=./node_modules --exclude=./.git ' +
      '--exclude=./native/build -cf - . | tar -C "$2" -xf -', 'snapshot', REPO, src()]);
    fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(src(), 'node_modules'));
    const show = (r: { stdout: string }) => r.stdout.split('\n').filter(l => /\.qpkg|overlay_|built in|→/.test(l)).join('\n');

    let t0 = Date.now();
    // A cold build compiles sqlite3 for two Node ABIs and three CPUs: minutes on two cores, more on a busy machine.
    const r1 = mustRun('bash', ['scripts/build-qpkg.sh'], { cwd: src(), env: buildEnv({ SIPA_OUT: out1() }), timeoutMs: 25 * 60 * 1000 });
    console.log(`      build-qpkg.sh, every arch (${took(t0)}):\n${show(r1)}`);

    // The reproducibility twin (x86_64 only: the staging code is the same for every CPU, and the addons
    // come from the same cache) and the overlay, side by side; meanwhile the upgrade packages are repacked.
    t0 = Date.now();
    const twin = mustRunAsync('bash', ['scripts/build-qpkg.sh'], { cwd: src(), env: buildEnv({ SIPA_OUT: out2(), SIPA_ARCHES: 'x86_64' }) });
    const overlay = mustRunAsync('bash', ['scripts/build-overlay.sh'], { cwd: src(), env: buildEnv({ SIPA_OUT: ov(), SIPA_ARCHES: 'arm_64 x86_64' }) });
    const repacks = await Promise.all(FOLDERS.map(f => mustRunAsync('bash',
      ['scripts/packaging/repack-qpkg.sh', qpkg(out1(), f), UPGRADE_VERSION, outUp()], { cwd: src(), env: buildEnv({}) })));
    const [r2, ro] = await Promise.all([twin, overlay]);
    console.log(`      x86_64 twin, arm_64 and x86_64 overlays and repacks as ${UPGRADE_VERSION} (${took(t0)}):\n${show(r2)}\n${show(ro)}\n` +
      repacks.map(show).join('\n'));

    // Per arch, in parallel: a network namespace held by a sleep, the fake root, then refusal (ARM), install,
    // runtime check and selftest in order.
    t0 = Date.now();
    await Promise.all(FOLDERS.map(async (folder) => {
      netns[folder] = await holdNetns();
      const root = rootOf(folder);
      await mustRunAsync('bash', [FAKE_QTS, 'create', root, folder]);
      fs.writeFileSync(path.join(tmp, `before-${folder}.json`), JSON.stringify(fileList(root)));
      fs.copyFileSync(qpkg(out1(), folder), path.join(root, 'share/CACHEDEV1_DATA/Public/a.qpkg'));
      fs.copyFileSync(qpkg(outUp(), folder, UPGRADE_VERSION), path.join(root, 'share/CACHEDEV1_DATA/Public/b.qpkg'));
      let refusal: ReturnType<typeof sh> | undefined;
      if (folder === 'arm-x31' || folder === 'arm-x41') {
        const conf = path.join(root, 'etc/platform.conf');
        const own = fs.readFileSync(conf, 'utf8');
        fs.writeFileSync(conf, `Platform = ${folder === 'arm-x31' ? 'ARM_AL_ALPINE' : 'ARM_MS_ARMADA'}\n`);
        refusal = await inRootAsync(folder, 'cd /share/CACHEDEV1_DATA/Public && sh a.qpkg');
        refusal.stdout += fs.existsSync(path.join(root, QPKG_ROOT)) ? '\nINSTALL DIR EXISTS' : '';
        fs.writeFileSync(conf, own);
      }
      const install = await inRootAsync(folder, 'cd /share/CACHEDEV1_DATA/Public && sh a.qpkg');
      const cpu = CPU[folder];
      fs.writeFileSync(path.join(root, 'tmp/runtime-check.js'), [
        `const nm = '${QPKG_ROOT}/app/node_modules/';`,
        `const koffi = require(nm + 'koffi'); koffi.load('${QPKG_ROOT}/app/native/build/${cpu}/libsipa.so');`,
        `const sqlite3 = require(nm + 'sqlite3'); require(nm + 'netlink');`,
        `new sqlite3.Database(':memory:').get('select sqlite_version() v', (e, r) => { if (e) throw e;`,
        ` console.log(process.arch, process.version, 'sqlite', r.v, 'glibc', process.report.getReport().header.glibcVersionRuntime); });`,
      ].join('\n'));
      const runtime = await inRootAsync(folder, `$SIPA_EMULATOR ${QPKG_ROOT}/lib/${LOADER[cpu]} --inhibit-cache ` +
        `--library-path ${QPKG_ROOT}/lib ${QPKG_ROOT}/bin/node /tmp/runtime-check.js`);
      fs.rmSync(path.join(root, 'tmp/runtime-check.js'));
      const selftest = await inRootAsync(folder, `${QPKG_ROOT}/bin/sipa selftest`);
      first[folder] = { refusal, install, runtime, selftest };
    }));
    console.log(`      fake QTS roots: install, runtime check, selftest for ${FOLDERS.join(', ')} in parallel (${took(t0)})`);
  });

  after(function () {
    for (const p of Object.values(netns)) p?.kill('SIGKILL');
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('computes the tail check digits as QDK does (45,591 bytes → 1163626099)', function () {
    assert.equal(qpkgCheckDigits(45591), '1163626099');
    const r = mustRun('bash', ['-c', `. scripts/packaging/qpkg-format.sh; qpkg_check_digits 45591`]);
    assert.equal(r.stdout, '1163626099');
  });

  it('builds a byte-identical QPKG twice from the same sources (x86_64)', function () {
    const h = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
    assert.equal(h(qpkg(out1(), 'x86_64')), h(qpkg(out2(), 'x86_64')), 'the two builds differ');
  });

  it('is no bigger than it is now: ARM (Node 20) within issue 14\'s 24 MB, x86_64 and arm_64 (Node 24) held where they are', function () {
    // Issue 14's goals (x86_64 ≤ 26 MB, every ARM package ≤ 24 MB) were set for Node 20. Node 24 (issue 12) brought a
    // 108.7 MB bin/node (33 MB of it the built-in ICU data), and the x86_64 and arm_64 packages no longer meet them
    // (qpkg/README.md, "Size"): for those this holds the line, so that growth fails, until that is decided.
    const ceiling: Record<Folder, number> = { x86_64: 30_000_000, arm_64: 28_400_000, 'arm-x41': 24_000_000, 'arm-x31': 24_000_000 };
    const sizes = FOLDERS.map(f => [f, fs.statSync(qpkg(out1(), f)).size] as const);
    console.log(`        ${sizes.map(([f, n]) => `${f} ${n.toLocaleString('en')} B`).join(', ')}`);
    for (const [f, n] of sizes) assert.ok(n <= ceiling[f], `${f}: ${n} bytes, over ${ceiling[f]}`);
  });

  it(`repacks as ${UPGRADE_VERSION} with the same data archive and a new control archive, header and tail`, function () {
    for (const folder of FOLDERS) {
      const a = fs.readFileSync(qpkg(out1(), folder));
      const b = fs.readFileSync(qpkg(outUp(), folder, UPGRADE_VERSION));
      assert.equal(b.subarray(b.length - 100).toString('latin1').slice(80, 90), UPGRADE_VERSION.padEnd(10));
      assert.match(b.subarray(0, 4096).toString('latin1'), new RegExp(`QPKG_VER="${UPGRADE_VERSION.replace(/\./g, '\\.')}"`));
      const tailA = a.length - 100;
      const tailB = b.length - 100;
      // data.tar.gz is the last part before the tail: the same bytes in both.
      const probe = Math.min(1 << 20, tailA);
      assert.ok(a.subarray(tailA - probe, tailA).equals(b.subarray(tailB - probe, tailB)), `${folder}: the data archive changed`);
    }
  });

  for (const folder of FOLDERS) {
    const both = () => [[qpkg(out1(), folder), VERSION], [qpkg(outUp(), folder, UPGRADE_VERSION), UPGRADE_VERSION]] as const;

    it(`${folder}: tail fields, and the check digits are what QDK's qpkg_encrypt.c writes`, function () {
      for (const [file, version] of both()) {
        const buf = fs.readFileSync(file);
        const size = buf.length;
        const tail = buf.subarray(size - 100).toString('latin1');
        assert.equal(tail.slice(90), 'QNAPQPKG  ');
        assert.equal(tail.slice(60, 80), NAME.padEnd(20));
        assert.equal(tail.slice(80, 90), version.padEnd(10));
        assert.equal(buf.subarray(size - 60, size - 50).toString('latin1'), qpkgCheckDigits(size), 'check digits at −60');
        // QDK's own program seals a copy whose digits were wiped: it must come out byte for byte as built.
        const copy = path.join(tmp, 'sealed.qpkg');
        const wiped = Buffer.from(buf);
        wiped.write('0000000000', size - 60, 'latin1');
        fs.writeFileSync(copy, wiped);
        mustRun(qpkgEncrypt(), [copy]);
        assert.ok(fs.readFileSync(copy).equals(buf), `${path.basename(file)}: qpkg_encrypt wrote other check digits`);
        fs.rmSync(copy);
      }
    });

    it(`${folder}: QDK's get_content_size (header + control + data) ends where the tail begins`, function () {
      for (const [file] of both()) {
        // qbuild's own function, cut out of qbuild and run on the file.
        const r = mustRun('bash', ['-c', 'source <(sed -n "/^get_content_size(){/,/^}$/p" "$1"); err_msg() { echo "$*" >&2; exit 1; }; get_content_size "$2"',
          'x', QBUILD, file]);
        assert.equal(Number(r.stdout.trim()), fs.statSync(file).size - 100, r.out);
      }
    });

    it(`${folder}: QDK's qbuild --extract pulls out the control files and the data archive, exactly`, function () {
      for (const [file] of both()) {
        const dir = path.join(tmp, `extract-${folder}`);
        fs.rmSync(dir, { recursive: true, force: true });
        const r = qbuild(['--extract', file, dir]);
        assert.equal(r.code, 0, r.out);
        assert.deepEqual(fs.readdirSync(dir).sort(), ['built_info', DATA_ARCHIVE, 'package_routines', 'qinstall.sh', 'qpkg.cfg', 'unxz'].sort(), r.out);
        const [s, c, d] = mustRun('bash', ['-c', '. scripts/packaging/targets.sh; . scripts/packaging/lib.sh; . scripts/packaging/qpkg-format.sh; qpkg_lengths "$1"', 'x', file])
          .stdout.trim().split(' ').map(Number);
        const buf = fs.readFileSync(file);
        assert.equal(buf.subarray(s - 7, s).toString('latin1'), 'exit 1\n', 'script_len ends the header');
        assert.ok(fs.readFileSync(path.join(dir, DATA_ARCHIVE)).equals(buf.subarray(s + c, s + c + d)), 'the extracted data archive is not the one in the file');
        const cfg = fs.readFileSync(path.join(dir, 'qpkg.cfg'), 'utf8');
        assert.match(cfg, new RegExp(`^QPKG_NAME="${NAME}"$`, 'm'));
        // QPKG_CONFIG (qbuild --query config) names files the data archive really ships.
        const config = qbuild(['--query', 'config', file]).stdout.trim().split(/\s+/);
        assert.deepEqual(config, ['etc/sipa.json']);
        const listed = mustRun('tar', ['-tJf', path.join(dir, DATA_ARCHIVE)]).stdout.split('\n');
        for (const c of config) assert.ok(listed.includes(`./${c}`), `QPKG_CONFIG ${c} is not in the data archive`);
        fs.rmSync(dir, { recursive: true });
      }
    });

    it(`${folder}: QDK's qbuild --query info and --query dump read the package's qpkg.cfg`, function () {
      for (const [file, version] of both()) {
        const info = qbuild(['--query', 'info', file]);
        assert.equal(info.code, 0, info.out);
        assert.match(info.stdout, new RegExp(`^Name +: ${NAME}$`, 'm'), info.out);
        assert.match(info.stdout, new RegExp(`^Version +: ${version.replace(/\./g, '\\.')}$`, 'm'), info.out);
        assert.match(info.stdout, /^Packager +: \S/m, info.out);
        const dump = qbuild(['--query', 'dump', file]);
        assert.equal(dump.code, 0, dump.out);
        assert.match(dump.stdout, new RegExp(`^QPKG_NAME="${NAME}"$`, 'm'), dump.out);
        assert.match(dump.stdout, new RegExp(`^QPKG_VER="${version.replace(/\./g, '\\.')}"$`, 'm'), dump.out);
        assert.match(dump.stdout, /^QPKG_SERVICE_PROGRAM="sipa\.sh"$/m, dump.out);
      }
    });
  }

  for (const folder of FOLDERS) {
    describe(`${folder} in a fake QTS root (no C library; ${folder === 'x86_64' ? 'native' : 'qemu-user'})`, function () {
      const root = () => rootOf(folder);
      const native = folder === 'x86_64';
      const inRoot = (cmd: string) =>
        sh('bash', [FAKE_QTS, 'run', root(), folder, cmd], { env: fakeEnv(folder), timeoutMs: 5 * 60 * 1000 });
      const getcfg = (key: string) => inRoot(`/sbin/getcfg ${NAME} ${key} -f /etc/config/qpkg.conf`).stdout.trim();
      const kernelState = () => ({
        sets: inNetns(folder, ['ipset', 'list', '-n']).stdout.split('\n').filter(l => /^sipa/.test(l)),
        rules: [4, 6].flatMap(f => inNetns(folder, [`ip${f === 4 ? '' : '6'}tables-legacy-save`]).stdout.split('\n').filter(l => /SIPA/i.test(l))),
      });
      const SIPA = `${QPKG_ROOT}/bin/sipa`;
      const CONF = `--config ${QPKG_ROOT}/etc/sipa.json`;

      if (folder === 'arm-x31' || folder === 'arm-x41') {
        it('refuses a NAS of the other ARM platform family', function () {
          const r = first[folder]!.refusal!;
          assert.equal(r.code, 1, r.out);
          assert.match(r.out, /incompatible/);
          assert.doesNotMatch(r.stdout, /INSTALL DIR EXISTS/);
        });
      }

      it('installs by running the .qpkg with sh (header → control → data → qinstall.sh)', function () {
        const r = first[folder]!.install;
        assert.equal(r.code, 10, `install exited ${r.code} (10 = done, package file may go):\n${r.out}`);
        assert.equal(getcfg('Install_Path'), QPKG_ROOT);
        assert.equal(getcfg('Version'), VERSION);
        const events = fs.readFileSync(path.join(root(), 'var/log/event.log'), 'utf8');
        if (native) {
          assert.equal(getcfg('Enable'), 'TRUE');
          assert.match(events, /level=0 \[Secure IP Access\] started \(pid \d+\)/);
        } else {
          // Under qemu-user the daemon dies at its first netfilter netlink socket (qemu emulates none): start waits for
          // the daemon to answer, sees it exit, reports the log's last lines, and the install leaves the package disabled.
          assert.match(events, /level=2 \[Secure IP Access\] the daemon exited at start; last lines of \/var\/log\/sipa\/sipa\.log: .*the kernel lacks ip_set or nfnetlink support/, r.out);
          assert.equal(getcfg('Enable'), 'FALSE');
        }
        assert.equal(getcfg('Shell'), `${QPKG_ROOT}/sipa.sh`);
        assert.equal(getcfg('Use_Proxy'), '1');
        assert.equal(getcfg('Proxy_Path'), '/sipa');
        assert.equal(fs.readlinkSync(path.join(root(), 'etc/init.d/sipa.sh')), `${QPKG_ROOT}/sipa.sh`);
        // QDK's link_start_stop_script: QS<rc> to start, QK<1000 - rc> to stop at shutdown.
        assert.equal(fs.readlinkSync(path.join(root(), `etc/rcS.d/QS140${NAME}`)), '/etc/init.d/sipa.sh');
        assert.equal(fs.readlinkSync(path.join(root(), `etc/rcK.d/QK860${NAME}`)), '/etc/init.d/sipa.sh');
        // QDK's copy_qpkg_icons: copies, not links.
        for (const suffix of ['', '_80', '_gray']) {
          const icon = path.join(root(), `home/httpd/RSS/images/${NAME}${suffix}.gif`);
          assert.ok(fs.lstatSync(icon).isFile(), `${icon} is not a regular file`);
          assert.ok(fs.readFileSync(icon).equals(fs.readFileSync(path.join(root(), QPKG_ROOT, `.qpkg_icon${suffix}.gif`))));
        }
        // QDK's register_qpkg: Distribution_Type (default 0) and Build (built_info's time).
        assert.equal(getcfg('Distribution_Type'), '0');
        assert.equal(getcfg('Build'), '20231114');
        assert.equal(getcfg('Config_Path'), `${QPKG_ROOT}/etc/sipa.json`);
        assert.equal(fs.readlinkSync(path.join(root(), `home/httpd/cgi-bin/qpkg/${NAME}`)), `${QPKG_ROOT}/web`);
        const cfg = JSON.parse(fs.readFileSync(path.join(root(), QPKG_ROOT, 'etc/sipa.json'), 'utf8'));
        assert.equal(cfg.dataDir, '/mnt/boot_config/sipa');
        assert.equal((fs.statSync(path.join(root(), QPKG_ROOT, 'etc/sipa.json')).mode & 0o777).toString(8), '600');
        assert.ok(fs.existsSync(path.join(root(), QPKG_ROOT, '.uninstall.sh')));
        assert.equal(fs.readdirSync(path.join(root(), 'share/CACHEDEV1_DATA/.qpkg')).join(','), NAME, 'no scratch dir left');
      });

      it('ships the built panel in app/dist/panel, and web/panel (the QTS web tree link) leads to it with the manifest', function () {
        for (const f of PANEL_FILES) assert.ok(fs.statSync(path.join(root(), QPKG_ROOT, 'app/dist/panel', f)).size > 0, `${f} missing`);
        assert.equal(fs.readlinkSync(path.join(root(), QPKG_ROOT, 'web/panel')), '../app/dist/panel');
        // Through the web tree link, as the QTS web server would resolve /cgi-bin/qpkg/SecureIPAccess/panel/...
        const r = inRoot(`cat /home/httpd/cgi-bin/qpkg/${NAME}/panel/manifest.json && ls /home/httpd/cgi-bin/qpkg/${NAME}/panel/`);
        assert.equal(r.code, 0, r.out);
        const manifest = JSON.parse(r.stdout.slice(0, r.stdout.lastIndexOf('}') + 1));
        assert.equal(manifest.id, 'secure-ip-access');
        assert.match(r.stdout, new RegExp(manifest.script.replace('.', '\\.')));
        assert.match(r.stdout, new RegExp(manifest.icon.replace('.', '\\.')));
      });

      it('runs the bundled Node with koffi + native helper, sqlite3 and netlink on the bundled glibc', function () {
        const r = first[folder]!.runtime;
        assert.equal(r.code, 0, r.out);
        assert.match(r.stdout, /sqlite 3\.\d+/);
        assert.match(r.stdout, /glibc 2\.3\d/);
        console.log(`        ${r.stdout.trim()}`);
      });

      if (folder === 'arm_64') {
        it('has every arm64 ELF aligned for 64 KiB pages (node, loader, C libraries, addons, helper)', function () {
          assert.deepEqual(misalignedElves(path.join(root(), QPKG_ROOT)), []);
        });
      }

      it('passes `sipa selftest` (Node, koffi, helper, sqlite3, netlink, scratch store)', function () {
        const r = first[folder]!.selftest;
        assert.equal(r.code, 0, `sipa selftest exited ${r.code}:\n${r.out.slice(-3000)}`);
      });

      if (native) {
        it('serves the panel through the daemon on the QTS proxy port (index, bundle, manifest)', function () {
          // No wait after start: it returns once the daemon answers on its socket.
          const up = inRoot(`${QPKG_ROOT}/sipa.sh start >/dev/null 2>&1 && ${SIPA} status ${CONF}`);
          assert.equal(up.code, 0, up.out);
          const r = inRoot(`${QPKG_ROOT}/sipa.sh start >/dev/null 2>&1; for f in / /sipa-panel.js /manifest.json; do ` +
            `wget -qO /tmp/got http://127.0.0.1:8491$f && echo "$f $(wc -c < /tmp/got)"; done; cat /tmp/got; rm -f /tmp/got`);
          assert.equal(r.code, 0, r.out);
          const panel = path.join(root(), QPKG_ROOT, 'app/dist/panel');
          assert.match(r.stdout, new RegExp(`^/ ${fs.statSync(path.join(panel, 'index.html')).size}$`, 'm'), r.out);
          assert.match(r.stdout, new RegExp(`^/sipa-panel.js ${fs.statSync(path.join(panel, 'sipa-panel.js')).size}$`, 'm'), r.out);
          assert.match(r.stdout, /"id": "secure-ip-access"/);
        });

        it('serves the panel and its API through a QTS-like reverse proxy at /sipa/, one that strips the prefix and one that keeps it', async function () {
          // The daemon runs for the length of one step; the stand-in for QTS's web server (qts-web.cjs: authLogin.cgi,
          // and /sipa/ forwarded as Apache's ProxyPass with ProxyPreserveHost Off) and the browser run from the host
          // in the same network namespace meanwhile.
          const up = path.join(root(), 'tmp/daemon-up');
          const done = path.join(root(), 'tmp/proxy-done');
          const step = inRootAsync(folder, `${QPKG_ROOT}/sipa.sh start >/dev/null 2>&1 && touch /tmp/daemon-up; ` +
            'i=0; while [ ! -e /tmp/proxy-done ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done; rm -f /tmp/daemon-up /tmp/proxy-done');
          const ns = `--net=/proc/${netns[folder]!.pid}/ns/net`;
          const web = spawn('nsenter', [ns, process.execPath, path.join(REPO, 'test/packaging/qts-web.cjs'), '8080', '8081', '8491', '/sipa', 'admin-sid'],
            { stdio: ['ignore', 'pipe', 'inherit'] });
          let results: Record<string, Record<string, { status: number; length: number; location?: string; text: string }>>;
          try {
            await new Promise<void>((resolve, reject) => {
              web.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
              web.on('exit', code => reject(new Error(`qts-web.cjs exited ${code}`)));
            });
            for (let i = 0; !fs.existsSync(up); i++) {
              assert.ok(i < 600, 'the daemon did not start');
              await new Promise(r => setTimeout(r, 100));
            }
            // The admin's browser, which reached the NAS as nas.example.test (a name in no allowlist).
            const browser = `
              const http = require('node:http');
              const call = (port, method, path, headers, body) => new Promise((resolve, reject) => {
                const r = http.request({ host: '127.0.0.1', port, method, path, headers: { Host: 'nas.example.test:' + port, ...headers } }, (res) => {
                  let text = ''; res.on('data', d => { text += d; });
                  res.on('end', () => resolve({ status: res.statusCode, length: Buffer.byteLength(text), location: res.headers.location, text: text.slice(0, 300) }));
                });
                r.on('error', reject); r.end(body);
              });
              (async () => {
                const out = {};
                for (const [mode, port, address] of [['strip', 8080, '198.51.100.7'], ['keep', 8081, '198.51.100.8']]) {
                  const o = out[mode] = {};
                  for (const f of ['', 'sipa-panel.js', 'manifest.json']) o['/' + f] = await call(port, 'GET', '/sipa/' + f, {});
                  const cookie = { Cookie: 'NAS_SID=admin-sid' };
                  o.session = await call(port, 'GET', '/sipa/api/v1/session', cookie);
                  const csrf = JSON.parse(o.session.text).csrfToken;
                  const post = (origin) => call(port, 'POST', '/sipa/api/v1/devices', { ...cookie, 'X-CSRF-Token': csrf, Origin: origin,
                    'Content-Type': 'application/json' }, JSON.stringify({ address, label: 'via ' + mode, expiry: { policy: 'fixed', seconds: 3600 } }));
                  o.register = await post('http://nas.example.test:' + port);
                  o.foreign = await post('http://evil.example');
                  o.anonymous = await call(port, 'GET', '/sipa/api/v1/status', {});
                }
                out.keep.bare = await call(8081, 'GET', '/sipa', {});
                console.log(JSON.stringify(out));
              })().catch(e => { console.error(e); process.exit(1); });`;
            const r = mustRun('nsenter', [ns, process.execPath, '-e', browser]);
            results = JSON.parse(r.stdout);
          } finally {
            web.kill('SIGKILL');
            fs.writeFileSync(done, '');
            await step;
          }
          const panel = path.join(root(), QPKG_ROOT, 'app/dist/panel');
          for (const mode of ['strip', 'keep']) {
            const o = results[mode];
            assert.equal(o['/'].status, 200, `${mode}: ${o['/'].text}`);
            assert.equal(o['/'].length, fs.statSync(path.join(panel, 'index.html')).size, mode);
            assert.equal(o['/sipa-panel.js'].length, fs.statSync(path.join(panel, 'sipa-panel.js')).size, mode);
            assert.match(o['/manifest.json'].text, /"id": "secure-ip-access"/, mode);
            assert.equal(o.session.status, 200, `${mode}: ${o.session.text}`);
            assert.equal(o.register.status, 201, `${mode}: the panel's own POST through the proxy: ${o.register.text}`);
            assert.equal(o.foreign.status, 403, mode);
            assert.match(o.foreign.text, /foreign_origin/, mode);
            assert.equal(o.anonymous.status, 401, mode);
          }
          assert.equal(results.keep.bare.status, 301);
          assert.equal(results.keep.bare.location, '/sipa/');
          const list = inRoot(`${QPKG_ROOT}/sipa.sh start >/dev/null 2>&1; ${SIPA} list --json ${CONF}; ${SIPA} audit --json --limit 5 ${CONF}`);
          assert.match(list.stdout, /198\.51\.100\.7[\s\S]*via strip/, list.out);
          assert.match(list.stdout, /198\.51\.100\.8[\s\S]*via keep/, list.out);
          assert.match(list.stdout, /"surface":\s*"panel",\s*"actor":\s*"admin"/, list.out);
        });
      }

      if (native) {
        it('loads nothing the build pruned from node_modules (a traced run of selftest, the daemon and the CLI)', function () {
          // A require hook in every Node process (NODE_OPTIONS): the files each loaded (require.cache, native addons)
          // and every require that failed to resolve, written at exit.
          fs.writeFileSync(path.join(root(), 'tmp/sipa-trace.cjs'), `
            const Module = require('module'), fs = require('fs');
            const seen = new Set(), failed = [];
            const resolve = Module._resolveFilename;
            Module._resolveFilename = function (request, parent, ...rest) {
              try { return resolve.call(this, request, parent, ...rest); }
              catch (e) { failed.push({ request, from: parent && parent.filename }); throw e; }
            };
            const dlopen = process.dlopen;
            process.dlopen = function (m, file, ...rest) { seen.add(file); return dlopen.call(this, m, file, ...rest); };
            process.on('exit', () => {
              for (const k of Object.keys(require.cache)) seen.add(k);
              fs.appendFileSync('/tmp/sipa-trace.jsonl', JSON.stringify({ argv: process.argv.slice(2), loaded: [...seen], failed }) + '\\n');
            });`);
          const r = inRoot(`export NODE_OPTIONS="--require /tmp/sipa-trace.cjs"; ${SIPA} selftest >/dev/null && ` +
            `${QPKG_ROOT}/sipa.sh start >/dev/null && ${SIPA} status ${CONF} && ${SIPA} enable ${CONF} && ` +
            `${SIPA} register 203.0.113.9 --for 1h --label trace ${CONF} && ${SIPA} list --json ${CONF} >/dev/null && ` +
            `${SIPA} audit --limit 5 ${CONF} >/dev/null && ${SIPA} revoke 203.0.113.9 ${CONF} && ${SIPA} doctor ${CONF} >/dev/null; ` +
            `${SIPA} register not-an-address ${CONF}; echo "bad input exit $?"; ${SIPA} --help >/dev/null; ` +
            `${SIPA} disable ${CONF} && ${QPKG_ROOT}/sipa.sh stop`);
          const lines = fs.readFileSync(path.join(root(), 'tmp/sipa-trace.jsonl'), 'utf8').trim().split('\n');
          fs.rmSync(path.join(root(), 'tmp/sipa-trace.jsonl'));
          fs.rmSync(path.join(root(), 'tmp/sipa-trace.cjs'));
          assert.equal(r.code, 0, r.out);
          assert.match(r.out, /bad input exit 2/, r.out);
          const runs = lines.map(l => JSON.parse(l) as { argv: string[]; loaded: string[]; failed: { request: string; from: string | null }[] });
          assert.ok(runs.some(x => x.argv.includes('daemon')), 'the daemon wrote no trace (did it stop cleanly?)');
          const app = `${QPKG_ROOT}/app/`;
          const loaded = new Set(runs.flatMap(x => x.loaded).filter(f => f.startsWith(app)).map(f => f.slice(app.length)));
          const pruned = new Set(fs.readFileSync(path.join(out1(), 'pruned-node_modules.txt'), 'utf8').trim().split('\n'));
          assert.ok(pruned.size > 100, `only ${pruned.size} files pruned`);
          for (const pkg of ['ajv', 'cron', 'luxon', 'koffi', 'sqlite3', 'netlink']) {
            assert.ok([...loaded].some(f => f.startsWith(`node_modules/${pkg}/`)), `the trace saw nothing of ${pkg}`);
          }
          assert.deepEqual([...loaded].filter(f => pruned.has(f)), [], 'loaded files that the build pruned');
          // A require that failed inside the package must not have been after a pruned file.
          const misses = runs.flatMap(x => x.failed).filter(f => f.from?.startsWith(app)).map(f => {
            const base = f.request.startsWith('.') ? path.posix.join(path.posix.dirname(f.from!.slice(app.length)), f.request) : `node_modules/${f.request}`;
            return { ...f, pruned: ['', '.js', '.json', '.node', '/index.js', '/package.json'].map(e => base + e).filter(c => pruned.has(c)) };
          }).filter(f => f.pruned.length > 0);
          assert.deepEqual(misses, [], 'requires that failed because the build pruned their file');
          console.log(`        traced ${runs.length} Node processes: ${[...loaded].filter(f => f.startsWith('node_modules/')).length} node_modules files loaded, ` +
            `none of the ${pruned.size} pruned`);
        });
      }

      it(`upgrades to ${UPGRADE_VERSION} keeping the config and the data dir, without the removal cleanup`, function () {
        if (native) {
          // A store with something in it: enable (the daemon records it and puts the rules and sets in).
          const e = inRoot(`${QPKG_ROOT}/sipa.sh start >/dev/null 2>&1; ${SIPA} enable ${CONF}`);
          assert.equal(e.code, 0, e.out);
          assert.equal(kernelState().sets.length, 4, 'four sets after enable');
        }
        const dataDir = path.join(root(), 'mnt/boot_config/sipa');
        fs.mkdirSync(dataDir, { recursive: true });
        fs.writeFileSync(path.join(dataDir, 'kept.marker'), 'store\n');
        const storeBefore = fs.readdirSync(dataDir).filter(f => !/-(wal|shm|journal)$/.test(f)).sort();
        const cfgPath = path.join(root(), QPKG_ROOT, 'etc/sipa.json');
        const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
        cfg.log = { level: 'debug' };
        const edited = JSON.stringify(cfg, null, 2) + '\n';
        fs.writeFileSync(cfgPath, edited);
        fs.writeFileSync(path.join(root(), QPKG_ROOT, 'app/stale-file-from-old-version'), '');
        const events0 = fs.readFileSync(path.join(root(), 'var/log/event.log'), 'utf8').length;
        const enabledBefore = getcfg('Enable');
        const r = inRoot('cd /share/CACHEDEV1_DATA/Public && sh b.qpkg');
        assert.equal(r.code, 10, r.out);
        assert.match(r.out, new RegExp(`upgrading Secure IP Access ${VERSION.replace(/\./g, '\\.')} to ${UPGRADE_VERSION.replace(/\./g, '\\.')}`));
        assert.equal(getcfg('Version'), UPGRADE_VERSION);
        assert.equal(fs.readFileSync(cfgPath, 'utf8'), edited, 'config kept');
        assert.equal(fs.readFileSync(path.join(dataDir, 'kept.marker'), 'utf8'), 'store\n', 'data kept');
        for (const f of storeBefore) assert.ok(fs.existsSync(path.join(dataDir, f)), `${f} of the store kept`);
        assert.equal(fs.existsSync(path.join(root(), QPKG_ROOT, 'app/stale-file-from-old-version')), false, 'runtime replaced');
        assert.equal(getcfg('Install_Path'), QPKG_ROOT);
        assert.equal(getcfg('Enable'), enabledBefore, 'an upgrade keeps Enable');
        const events = fs.readFileSync(path.join(root(), 'var/log/event.log'), 'utf8').slice(events0);
        assert.doesNotMatch(`${r.out}\n${events}`, /uninstall-cleanup|removed its firewall|removed \/mnt/, 'no removal cleanup on upgrade');
        if (native) {
          const st = inRoot(`${QPKG_ROOT}/sipa.sh start >/dev/null 2>&1; ${SIPA} status --json ${CONF}`);
          assert.equal(st.code, 0, st.out);
          assert.equal(JSON.parse(st.stdout).enabled, true, 'the store kept "enabled" across the upgrade');
        }
      });

      it('service script: status, stop, start refused when disabled in App Center', function () {
        inRoot(`${QPKG_ROOT}/sipa.sh stop`);
        const st = inRoot(`${QPKG_ROOT}/sipa.sh status`);
        assert.equal(st.code, 3, st.out);
        mustRun('bash', [FAKE_QTS, 'run', root(), folder, `/sbin/setcfg ${NAME} Enable FALSE -f /etc/config/qpkg.conf`]);
        const r = inRoot(`/etc/init.d/sipa.sh start`);
        assert.notEqual(r.code, 0);
        assert.match(r.out, /disabled/);
        mustRun('bash', [FAKE_QTS, 'run', root(), folder, `/sbin/setcfg ${NAME} Enable TRUE -f /etc/config/qpkg.conf`]);
      });

      it(native
        ? 'uninstalls: sipa uninstall-cleanup takes out the rules, sets and data dir; the fake root is exactly as it was'
        : 'uninstalls: the kernel cleanup fails under qemu-user (no netfilter netlink) with a logged warning; data dir and files gone',
      function () {
        assert.ok(fs.existsSync(path.join(root(), 'mnt/boot_config/sipa')), 'a data dir to remove');
        if (native) assert.equal(kernelState().sets.length, 4, 'the sets are there before removal');
        // QDK's create_uninstall_script order: stop, remove, PKG_PRE_REMOVE, the files, PKG_MAIN_REMOVE, PKG_POST_REMOVE.
        const script = fs.readFileSync(path.join(root(), QPKG_ROOT, '.uninstall.sh'), 'utf8');
        const at = (re: RegExp) => { const i = script.search(re); assert.ok(i >= 0, `${re} not in .uninstall.sh`); return i; };
        const order = [/"\$service" stop/, /"\$service" remove/, /# --- PKG_PRE_REMOVE/, /rm -rf "\$\{QPKG_ROOT:\?\}"/,
          /# --- PKG_MAIN_REMOVE/, /# --- PKG_POST_REMOVE/].map(at);
        assert.deepEqual(order, [...order].sort((a, b) => a - b), 'the removal steps are out of QDK\'s order');
        const events0 = fs.readFileSync(path.join(root(), 'var/log/event.log'), 'utf8').length;
        const r = inRoot(`sh ${QPKG_ROOT}/.uninstall.sh`);
        assert.equal(r.code, 0, r.out);
        const events = fs.readFileSync(path.join(root(), 'var/log/event.log'), 'utf8').slice(events0);
        if (native) {
          assert.match(events, /level=0 \[Secure IP Access\] removed its firewall rules, sets and store/, r.out);
          assert.doesNotMatch(events, /level=[12]/, r.out);
          assert.deepEqual(kernelState(), { sets: [], rules: [] }, 'rules and sets gone');
        } else {
          // qemu-user emulates no NETLINK_NETFILTER socket: the CLI cannot reach ipset, says so, exits non-zero;
          // the hook logs a warning and removes the data dir itself.
          assert.match(r.out, /netlink/, r.out);
          assert.match(events, /level=1 \[Secure IP Access\] sipa uninstall-cleanup failed/, r.out);
        }
        assert.equal(fs.existsSync(path.join(root(), 'mnt/boot_config/sipa')), false, 'data dir removed');
        const before0: string[] = JSON.parse(fs.readFileSync(path.join(tmp, `before-${folder}.json`), 'utf8'));
        // /run/xtables.lock: the NAS's iptables' own lock file.
        const after0 = fileList(root()).filter(l => !/\/Public\/[ab]\.qpkg$|^f \/run\/xtables\.lock$/.test(l));
        assert.deepEqual(after0, before0);
        const conf = fs.readFileSync(path.join(root(), 'etc/config/qpkg.conf'), 'utf8');
        assert.doesNotMatch(conf, new RegExp(`\\[${NAME}\\]`));
        assert.match(conf, /\[QuFirewall\]/);
      });
    });
  }

  describe('x86_64 install failures in a fake QTS root of their own', function () {
    const root = () => path.join(tmp, 'root-edge');
    const run = (cmd: string) => sh('bash', [FAKE_QTS, 'run', root(), 'x86_64', cmd], { timeoutMs: 5 * 60 * 1000 });
    const file = (p: string) => path.join(root(), p);
    const registered = () => run(`/sbin/getcfg ${NAME} Install_Path -f /etc/config/qpkg.conf`).stdout.trim();
    const setVersion = (conf: string, v: string) => fs.writeFileSync(file(conf), `[System]\nVersion = ${v}\nBuild Number = 20240802\n`);

    before(function () {
      mustRun('bash', [FAKE_QTS, 'create', root(), 'x86_64']);
      fs.copyFileSync(qpkg(out1(), 'x86_64'), file('share/CACHEDEV1_DATA/Public/a.qpkg'));
    });

    it('reads the firmware version from /etc/default_config/uLinux.conf first (QDK 2.5.3); a refusal exits 10 with "Installation Abort."', function () {
      setVersion('etc/default_config/uLinux.conf', '5.1.0');
      setVersion('etc/config/uLinux.conf', '5.2.0');
      const r = run('cd /share/CACHEDEV1_DATA/Public && sh a.qpkg');
      assert.equal(r.code, 10, r.out);
      assert.match(r.out, /needs QTS 5\.2\.0 or later \(this NAS runs 5\.1\.0\)/, r.out);
      assert.match(r.out, /Installation Abort\./, r.out);
      assert.equal(fs.readFileSync(file('tmp/update_process'), 'utf8').trim(), '-1');
      assert.equal(registered(), '');
      assert.deepEqual(fs.readdirSync(file('share/CACHEDEV1_DATA/.qpkg')), [], 'nothing installed, no scratch dir left');
    });

    it('falls back to /etc/config/uLinux.conf when the firmware has no default_config', function () {
      fs.rmSync(file('etc/default_config/uLinux.conf'));
      setVersion('etc/config/uLinux.conf', '5.1.9');
      const r = run('cd /share/CACHEDEV1_DATA/Public && sh a.qpkg');
      assert.equal(r.code, 10, r.out);
      assert.match(r.out, /this NAS runs 5\.1\.9/, r.out);
      assert.equal(registered(), '');
    });

    it('a service that does not start at install leaves the package installed but Enable=FALSE, as QDK does', function () {
      setVersion('etc/default_config/uLinux.conf', '5.2.0');
      setVersion('etc/config/uLinux.conf', '5.2.0');
      fs.writeFileSync(file('var/run/sipa'), 'not a directory: the service cannot make its run dir\n');
      const r = run('cd /share/CACHEDEV1_DATA/Public && sh a.qpkg');
      assert.equal(r.code, 10, r.out);
      assert.doesNotMatch(r.out, /Installation Abort/, r.out);
      assert.equal(registered(), QPKG_ROOT);
      assert.equal(run(`/sbin/getcfg ${NAME} Enable -f /etc/config/qpkg.conf`).stdout.trim(), 'FALSE');
      assert.match(fs.readFileSync(file('var/log/event.log'), 'utf8'), /level=1 .*did not start, so it is disabled/);
      assert.equal(fs.readFileSync(file('tmp/update_process'), 'utf8').trim(), '3');
      fs.rmSync(file('var/run/sipa'));
    });

    it('start gives up on a daemon that lives but never answers: a bounded wait, the log\'s last lines, the process stopped', function () {
      // The fault: bin/sipa's daemon is a Node process (on the bundled runtime) that never opens the socket.
      const bin = file(`${QPKG_ROOT}/bin/sipa`);
      const real = fs.readFileSync(bin);
      fs.mkdirSync(file('tmp/hang/cli'), { recursive: true });
      fs.writeFileSync(file('tmp/hang/cli/main.js'), 'console.log("hanging before the socket"); setInterval(() => {}, 1 << 30);\n');
      fs.writeFileSync(bin, `#!/bin/sh\n[ "$1" = daemon ] || exit 3\nR=${QPKG_ROOT}\n` +
        'exec $R/lib/ld-linux-x86-64.so.2 --inhibit-cache --library-path $R/lib $R/bin/node /tmp/hang/cli/main.js\n');
      try {
        const r = run(`/sbin/setcfg ${NAME} Enable TRUE -f /etc/config/qpkg.conf; SIPA_START_WAIT=3 ${QPKG_ROOT}/sipa.sh start; ` +
          'echo "rc=$?"; ps -o args | grep "[h]ang/cli" || echo "none left"');
        assert.match(r.out, /rc=1/, r.out);
        assert.match(r.out, /did not answer on \/var\/run\/sipa\/sipa\.sock within 3 s; stopping it\. Last lines of \/var\/log\/sipa\/sipa\.log: .*hanging before the socket/, r.out);
        assert.match(r.out, /none left/, r.out);
      } finally {
        fs.writeFileSync(bin, real);
      }
    });
  });

  describe('x86_64 on a NAS whose firmware carries the module (the overlay unpacked into the fake root): one install story', function () {
    // The firmware's copy starts at boot by its rc link; App Center's package takes the service over (same config
    // and store) and gives it back when removed. Throughout every switch a sampler in the NAS's network namespace
    // checks, every 100 ms, that INPUT still jumps to the chain and the registered address is still in the allow set.
    const FW = '/usr/local/sipa';
    const DEVICE = '203.0.113.7';
    const BOOT = 'for s in /etc/rcS.d/S??*; do [ -x "$s" ] && "$s" start; done';
    const root = () => path.join(tmp, 'root-fw');
    const file = (p: string) => path.join(root(), p);
    let holder: ChildProcess | null = null;
    const ns = () => `/proc/${holder!.pid}/ns/net`;
    const env = () => ({ ...process.env, FAKE_NETNS: ns() });
    const run = (cmd: string) => sh('bash', [FAKE_QTS, 'run', root(), 'x86_64', cmd], { env: env(), timeoutMs: 5 * 60 * 1000 });
    const getcfg = (key: string) => run(`/sbin/getcfg ${NAME} ${key} -f /etc/config/qpkg.conf`).stdout.trim();
    /** Whose daemon runs: the install root in its command line (run in the same step as what started it). */
    const WHO = 'echo "daemon-root=$(tr "\\0" "\\n" < /proc/$(cat /var/run/sipa/service.pid)/cmdline | sed -n "s|/app/dist/module/cli/main.js$||p")"';
    const who = (out: string) => /daemon-root=(.*)/.exec(out)?.[1];
    const list = (base: string) => `${base}/bin/sipa list --json --config ${base}/etc/sipa.json`;
    const events = () => fs.readFileSync(file('var/log/event.log'), 'utf8');

    /** Runs cmd in the fake NAS while sampling the kernel's enforcement; every sample must show it. */
    async function enforcedThroughout(cmd: string) {
      const stop = path.join(tmp, 'fw-sampler.stop');
      fs.rmSync(stop, { force: true });
      const sampler = shAsync('nsenter', [`--net=${ns()}`, 'sh', '-c', `while [ ! -e ${stop} ]; do
        j=$(iptables-legacy -S INPUT | grep -c -- '-j SIPA_INPUT'); ipset test sipa4_allow ${DEVICE} >/dev/null 2>&1 && m=1 || m=0
        echo "$j $m"; sleep 0.1; done`]);
      let r;
      try {
        r = await shAsync('bash', [FAKE_QTS, 'run', root(), 'x86_64', cmd], { env: env(), timeoutMs: 5 * 60 * 1000 });
      } finally {
        fs.writeFileSync(stop, '');
      }
      const samples = (await sampler).stdout.trim().split('\n');
      const gaps = samples.filter(l => l !== '1 1');
      assert.ok(samples.length >= 10, `only ${samples.length} samples:\n${r.out}`);
      assert.deepEqual(gaps, [], `enforcement lapsed in ${gaps.length} of ${samples.length} samples (jump, member):\n${r.out}`);
      return { ...r, samples: samples.length };
    }

    before(async function () {
      holder = await holdNetns();
      mustRun('bash', [FAKE_QTS, 'create', root(), 'x86_64']);
      // The firmware image: the overlay's archive unpacked at / (what a firmware pipeline does with it).
      mustRun('tar', ['-xzf', path.join(ov(), `sipa-overlay_${VERSION}_x86_64.tar.gz`), '-C', root()]);
      fs.copyFileSync(qpkg(out1(), 'x86_64'), file('share/CACHEDEV1_DATA/Public/a.qpkg'));
      fs.copyFileSync(qpkg(outUp(), 'x86_64', UPGRADE_VERSION), file('share/CACHEDEV1_DATA/Public/b.qpkg'));
    });
    after(function () {
      holder?.kill('SIGKILL');
    });

    it('boots: the overlay\'s rc link starts the firmware\'s copy, which registers itself and enforces', function () {
      const r = run(`${BOOT}; ${WHO}; ${FW}/bin/sipa enable --config ${FW}/etc/sipa.json && ` +
        `${FW}/bin/sipa register ${DEVICE} --for 2h --label firmware --config ${FW}/etc/sipa.json && ${list(FW)}`);
      assert.equal(r.code, 0, r.out);
      assert.equal(who(r.out), FW, r.out);
      assert.match(r.out, /SecureIPAccess: started/);
      assert.match(r.stdout, new RegExp(`"address": "${DEVICE.replace(/\./g, '\\.')}"`), r.out);
      assert.equal(getcfg('Install_Path'), FW);
      assert.equal(getcfg('Version'), VERSION);
      assert.equal(getcfg('Shell'), '/etc/init.d/sipa.sh');
      assert.equal(fs.readlinkSync(file(`home/httpd/cgi-bin/qpkg/${NAME}`)), `${FW}/web`);
      const rules = inNetnsOf(ns(), ['iptables-legacy', '-S', 'INPUT']);
      assert.match(rules, /-A INPUT -j SIPA_INPUT/);
    });

    it('refuses a package older than the firmware\'s copy, naming the firmware\'s version; nothing changes', function () {
      const conf = file(`${FW}/etc/panel.conf`);
      const own = fs.readFileSync(conf, 'utf8');
      fs.writeFileSync(conf, own.replace(/^Version = .*$/m, 'Version = 99.0.0'));
      try {
        const before0 = fileList(root());
        const r = run(`${BOOT} >/dev/null 2>&1; cd /share/CACHEDEV1_DATA/Public && sh a.qpkg; echo "rc=$?"; ${WHO}`);
        assert.match(r.out, /rc=10/, r.out);
        assert.match(r.out, new RegExp(`firmware already carries Secure IP Access 99\\.0\\.0, which is newer\\. Nothing was changed`), r.out);
        assert.match(r.out, /Installation Abort\./, r.out);
        assert.equal(who(r.out), FW, r.out);
        assert.equal(getcfg('Install_Path'), FW);
        assert.deepEqual(fs.readdirSync(file('share/CACHEDEV1_DATA/.qpkg')), []);
        const changed = fileList(root()).filter(l => !before0.includes(l) && !/^f \/(run\/xtables\.lock|var\/run\/sipa\/|var\/log\/)/.test(l));
        assert.deepEqual(changed, []);
      } finally {
        fs.writeFileSync(conf, own);
      }
    });

    it('a take-over whose service does not start is undone: the firmware\'s copy runs again and nothing of the package is left', async function () {
      // The package's start gives up at once (SIPA_START_WAIT=0): the removal hands the service back.
      const r = await enforcedThroughout(`${BOOT} >/dev/null 2>&1; cd /share/CACHEDEV1_DATA/Public && SIPA_START_WAIT=0 sh a.qpkg; ` +
        `echo "rc=$?"; ${WHO}; ${list(FW)}`);
      assert.match(r.out, /rc=10/, r.out);
      assert.match(r.out, /its service did not start .*the firmware's copy \(\S+\) runs the service again/, r.out);
      assert.equal(who(r.out), FW, r.out);
      assert.match(r.stdout, new RegExp(`"address": "${DEVICE.replace(/\./g, '\\.')}"`), r.out);
      assert.equal(getcfg('Install_Path'), FW);
      assert.equal(getcfg('Version'), VERSION);
      assert.deepEqual(fs.readdirSync(file('share/CACHEDEV1_DATA/.qpkg')), []);
      assert.ok(fs.lstatSync(file('etc/init.d/sipa.sh')).isFile(), 'the firmware\'s init script stays');
      assert.deepEqual(fs.readdirSync(file('etc/rcS.d')), ['S98sipa']);
      assert.equal(fs.readFileSync(file('tmp/update_process'), 'utf8').trim(), '-1');
    });

    it('App Center\'s install takes the service over onto the volume: same config and store, enforcement never lapses', async function () {
      const r = await enforcedThroughout(`${BOOT} >/dev/null 2>&1; cd /share/CACHEDEV1_DATA/Public && sh a.qpkg; echo "rc=$?"; ${WHO}; ${list(QPKG_ROOT)}; ` +
        `${QPKG_ROOT}/bin/sipa status --json --config ${QPKG_ROOT}/etc/sipa.json`);
      assert.match(r.out, /rc=10/, r.out);
      assert.equal(who(r.out), QPKG_ROOT, r.out);
      assert.match(r.stdout, new RegExp(`"address": "${DEVICE.replace(/\./g, '\\.')}"[\\s\\S]*"label": "firmware"`), r.out);
      assert.match(r.stdout, /"enabled": true/, r.out);
      assert.match(r.out, new RegExp(`takes over from the firmware's copy \\(${VERSION.replace(/\./g, '\\.')} in /usr/local/sipa\\)`));
      assert.equal(getcfg('Install_Path'), QPKG_ROOT);
      assert.equal(getcfg('Enable'), 'TRUE');
      assert.equal(getcfg('Shell'), `${QPKG_ROOT}/sipa.sh`);
      // The firmware's config (and so its dataDir) became the package's, root's alone.
      assert.equal(fs.readFileSync(file(`${QPKG_ROOT}/etc/sipa.json`), 'utf8'), fs.readFileSync(file(`${FW}/etc/sipa.json`), 'utf8'));
      assert.equal((fs.statSync(file(`${QPKG_ROOT}/etc/sipa.json`)).mode & 0o777).toString(8), '600');
      // The image's init script stays (it hands every verb to the package); the package's rc links are added.
      assert.ok(fs.lstatSync(file('etc/init.d/sipa.sh')).isFile());
      assert.deepEqual(fs.readdirSync(file('etc/rcS.d')).sort(), [`QS140${NAME}`, 'S98sipa']);
      assert.equal(fs.readlinkSync(file(`home/httpd/cgi-bin/qpkg/${NAME}`)), `${QPKG_ROOT}/web`);
      console.log(`        take-over: ${r.samples} samples, enforcement in every one`);
    });

    it('at boot the image\'s rc link starts the package; while the package\'s volume is missing, the firmware\'s copy bridges until App Center starts it', async function () {
      const r = await enforcedThroughout(`${BOOT}; ${WHO}; mv ${QPKG_ROOT} ${QPKG_ROOT}.away; ` +
        // A reboot: the daemon is gone (the rules stay in this stand-in; on a NAS the next start puts them back).
        `SIPA_STANDALONE=1 ${FW}/sipa.sh stop >/dev/null 2>&1; ` +
        `${BOOT}; ${WHO}; ${list(FW)}; mv ${QPKG_ROOT}.away ${QPKG_ROOT}; ${QPKG_ROOT}/sipa.sh start; ${WHO}`);
      const roots = [...r.out.matchAll(/daemon-root=(.*)/g)].map(m => m[1]);
      assert.deepEqual(roots, [QPKG_ROOT, FW, QPKG_ROOT], r.out);
      assert.match(r.out, /the firmware's copy enforces until it starts/, r.out);
      assert.match(r.out, new RegExp(`taking over from the daemon of ${FW}`), r.out);
      assert.match(r.stdout, new RegExp(`"address": "${DEVICE.replace(/\./g, '\\.')}"`), r.out);
      assert.equal(getcfg('Install_Path'), QPKG_ROOT, 'the bridge does not register itself');
    });

    it(`upgrades the package to ${UPGRADE_VERSION} with the firmware present: the image's init script stays, enforcement never lapses`, async function () {
      const r = await enforcedThroughout(`${BOOT} >/dev/null 2>&1; cd /share/CACHEDEV1_DATA/Public && sh b.qpkg; echo "rc=$?"; ${WHO}; ${list(QPKG_ROOT)}`);
      assert.match(r.out, /rc=10/, r.out);
      assert.match(r.out, new RegExp(`upgrading Secure IP Access ${VERSION.replace(/\./g, '\\.')} to ${UPGRADE_VERSION.replace(/\./g, '\\.')}`), r.out);
      assert.equal(who(r.out), QPKG_ROOT, r.out);
      assert.match(r.stdout, new RegExp(`"address": "${DEVICE.replace(/\./g, '\\.')}"`), r.out);
      assert.equal(getcfg('Version'), UPGRADE_VERSION);
      assert.ok(fs.lstatSync(file('etc/init.d/sipa.sh')).isFile());
    });

    it('removing the package hands the service back to the firmware\'s copy: registration, store and enforcement carry on', async function () {
      const r = await enforcedThroughout(`${BOOT} >/dev/null 2>&1; sh ${QPKG_ROOT}/.uninstall.sh; echo "rc=$?"; ${WHO}; ${list(FW)}; ` +
        `${FW}/bin/sipa status --json --config ${FW}/etc/sipa.json`);
      assert.match(r.out, /rc=0/, r.out);
      assert.equal(who(r.out), FW, r.out);
      assert.match(r.stdout, new RegExp(`"address": "${DEVICE.replace(/\./g, '\\.')}"`), r.out);
      assert.match(r.stdout, /"enabled": true/, r.out);
      assert.match(events(), /the firmware's copy \(\S+, \/usr\/local\/sipa\) takes the service back/);
      assert.doesNotMatch(r.out, /uninstall-cleanup|removed its firewall/);
      assert.equal(getcfg('Install_Path'), FW);
      assert.equal(getcfg('Version'), VERSION);
      assert.equal(getcfg('Shell'), '/etc/init.d/sipa.sh');
      assert.deepEqual(fs.readdirSync(file('share/CACHEDEV1_DATA/.qpkg')), []);
      assert.ok(fs.lstatSync(file('etc/init.d/sipa.sh')).isFile());
      assert.deepEqual(fs.readdirSync(file('etc/rcS.d')), ['S98sipa']);
      assert.deepEqual(fs.readdirSync(file('etc/rcK.d')), ['K02sipa']);
      assert.deepEqual(fs.readdirSync(file('home/httpd/RSS/images')), []);
      assert.equal(fs.readlinkSync(file(`home/httpd/cgi-bin/qpkg/${NAME}`)), `${FW}/web`);
      assert.ok(fs.existsSync(file('mnt/boot_config/sipa/sipa.db')), 'the store stays');
    });
  });

  describe('rootfs overlay (arm_64)', function () {
    const o = () => path.join(ov(), 'arm_64');
    const archive = () => path.join(ov(), `sipa-overlay_${VERSION}_arm_64.tar.gz`);

    it('has the runtime, init script with its boot links, default config, panel registration, the panel and a manifest of every file', function () {
      assert.equal(fs.readlinkSync(path.join(o(), 'etc/rcS.d/S98sipa')), '../init.d/sipa.sh');
      assert.equal(fs.readlinkSync(path.join(o(), 'etc/rcK.d/K02sipa')), '../init.d/sipa.sh');
      for (const p of ['etc/init.d/sipa.sh', 'usr/local/sipa/bin/sipa', 'usr/local/sipa/bin/node', 'usr/local/sipa/sipa.sh',
        'usr/local/sipa/lib/ld-linux-aarch64.so.1', 'usr/local/sipa/etc/sipa.json', 'usr/local/sipa/etc/panel.conf',
        ...PANEL_FILES.map(f => `usr/local/sipa/app/dist/panel/${f}`)]) {
        assert.ok(fs.existsSync(path.join(o(), p)), `${p} missing`);
      }
      assert.equal(fs.readlinkSync(path.join(o(), 'usr/local/sipa/web/panel')), '../app/dist/panel');
      // The manifest lives in the module's own folder, not at / of the image.
      assert.ok(!fs.existsSync(path.join(o(), 'MANIFEST.sha256')));
      const manifest = fs.readFileSync(path.join(o(), 'usr/local/sipa/MANIFEST.sha256'), 'utf8').trim().split('\n');
      const files = fileList(o()).filter(l => l.startsWith('f ') && l !== 'f /usr/local/sipa/MANIFEST.sha256').map(l => l.slice(2));
      assert.deepEqual(manifest.map(l => l.slice(66)), files);
      for (const line of manifest) {
        const [sum, p] = [line.slice(0, 64), line.slice(66)];
        assert.equal(crypto.createHash('sha256').update(fs.readFileSync(path.join(o(), p))).digest('hex'), sum, p);
      }
      assert.equal(JSON.parse(fs.readFileSync(path.join(o(), 'usr/local/sipa/etc/sipa.json'), 'utf8')).dataDir, '/mnt/boot_config/sipa');
      assert.match(fs.readFileSync(path.join(o(), 'usr/local/sipa/etc/panel.conf'), 'utf8'), /^Proxy_Path = \/sipa$/m);
      assert.deepEqual(misalignedElves(path.join(o(), 'usr/local/sipa')), []);
    });

    it('carries the same runtime bytes as the (reproducible) arm_64 QPKG, and its archive is the deterministic tar of the tree', function () {
      // The QPKG's data archive, cut out by the header's own lengths.
      const data = path.join(tmp, 'data-arm_64');
      fs.mkdirSync(data);
      mustRun('bash', ['-c', `. scripts/packaging/targets.sh; . scripts/packaging/lib.sh; . scripts/packaging/qpkg-format.sh
        read -r s c d < <(qpkg_lengths "$1")
        dd if="$1" bs=1M iflag=skip_bytes,count_bytes skip=$((s + c)) count="$d" status=none | tar -xJf - -C "$2"`,
      'x', qpkg(out1(), 'arm_64'), data]);
      const sums = (dir: string) => new Map(fileList(dir).filter(l => /^[fl] \/(app|bin|lib|web)\/|^f \/sipa\.sh$/.test(l)).map(l => {
        const p = path.join(dir, l.slice(2));
        return [l, l.startsWith('l') ? fs.readlinkSync(p) : crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')];
      }));
      const a = sums(data);
      const b = sums(path.join(o(), 'usr/local/sipa'));
      assert.ok(a.size > 150, `only ${a.size} runtime files in the QPKG`);
      assert.deepEqual([...b.entries()].sort(), [...a.entries()].sort());
      // The archive holds what the overlay owns and nothing above it (no ./, ./etc/, ./usr/ ... entries that would
      // re-stamp the image's folders), with the tree's own contents; the unpacked tree carries the archive's times.
      const members = mustRun('tar', ['-tzvf', archive()]).stdout.trim().split('\n');
      const names = members.map(l => l.split(/\s+/).slice(5).join(' ').replace(/ -> .*/, ''));
      for (const parent of ['./', './etc/', './etc/init.d/', './etc/rcS.d/', './etc/rcK.d/', './usr/', './usr/local/']) {
        assert.ok(!names.includes(parent), `the archive carries ${parent}`);
      }
      assert.ok(names.includes('./usr/local/sipa/') && names.includes('./etc/init.d/sipa.sh') && names.includes('./etc/rcS.d/S98sipa'), names.slice(0, 10).join('\n'));
      assert.ok(members.every(l => / 2023-11-14 /.test(l)), 'archive times are SOURCE_DATE_EPOCH');
      const unpacked = path.join(tmp, 'overlay-unpacked');
      fs.mkdirSync(unpacked);
      mustRun('tar', ['-xzf', archive(), '-C', unpacked]);
      assert.deepEqual(fileList(unpacked), fileList(o()));
      const bad = fileList(o()).filter(l => fs.lstatSync(path.join(o(), l.slice(2))).mtimeMs !== 1700000000 * 1000);
      assert.deepEqual(bad, [], 'build/overlay/<arch>/ carries build-time mtimes');
    });
  });
});
