// What the root daemon trusts on disk: it starts only where no user but root can change its folders, makes its
// own folders 0700 (marked) and files 0600, and never follows a link planted in place of its pid file or store.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addNamespace, removeNamespace } from '../../scripts/lib/netns';
import { cli, makeDaemon, TestDaemon } from '../../scripts/lib/daemon';
import { isMarked, MARKER, ownFolder, UntrustedPathError } from '../../module/cli/own-dirs';

const NOBODY = 65534;

describe('service: the folders the daemon trusts', function () {
  this.timeout(30000);
  let ns: string;
  let dir: string;
  let d: TestDaemon | null = null;
  const mode = (p: string) => fs.lstatSync(p).mode & 0o7777;

  /** Starts `sipa daemon` with these folders; resolves with its exit (a refusal exits at once). */
  function daemonWith(dataDir: string, runDir: string) {
    const configPath = path.join(dir, 'sipa.json');
    fs.writeFileSync(configPath, JSON.stringify({ dataDir, runDir, netns: ns, api: { http: { enabled: false } } }));
    return cli(configPath, ['daemon']);
  }

  before(() => {
    ns = addNamespace(`sipa-own-${process.pid}`);
  });
  after(() => removeNamespace(ns));
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipa-own-'));
  });
  afterEach(async () => {
    if (d) await d.destroy();
    d = null;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the README's /tmp example works: the daemon makes its own 0700 folders, marked, under the sticky /tmp; files 0600", async () => {
    const base = `/tmp/sipa-readme-${crypto.randomBytes(4).toString('hex')}`;
    try {
      d = makeDaemon(ns, { dataDir: `${base}/data`, runDir: `${base}/run` });
      await d.start();
      for (const folder of [base, `${base}/data`, `${base}/run`]) {
        assert.equal(mode(folder), 0o700, folder);
        assert.equal(fs.readFileSync(path.join(folder, MARKER), 'utf8'), `${folder}\n`);
        assert.ok(isMarked(folder));
      }
      assert.equal(mode(`${base}/data/sipa.db`), 0o600, 'the store holds the portal binding\'s private key');
      assert.equal(mode(`${base}/run/sipa.pid`), 0o600);
      assert.equal((await d.sipa('enable')).code, 0);
      assert.equal(mode(`${base}/data/sipa.enforce`), 0o600);
    } finally {
      if (d) await d.destroy();
      d = null;
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  it('makes an existing store of an older version 0600 and its own folders 0700', async () => {
    d = makeDaemon(ns);
    await d.start();
    await d.stop();
    const db = path.join(d.dir, 'data', 'sipa.db');
    fs.chmodSync(db, 0o644);
    fs.chmodSync(path.join(d.dir, 'data'), 0o750);
    await d.start();
    assert.equal(mode(db), 0o600);
    assert.equal(mode(path.join(d.dir, 'data')), 0o700);
  });

  it('refuses a run dir others can write, where a planted sipa.pid link would have overwritten a root file', async () => {
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'root-owned content\n');
    const runDir = path.join(dir, 'run');
    fs.mkdirSync(runDir);
    fs.chmodSync(runDir, 0o777);
    fs.symlinkSync(victim, path.join(runDir, 'sipa.pid'));
    const r = await daemonWith(path.join(dir, 'data'), runDir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${runDir} can be written by users other than root \\(mode 0777\\)`));
    assert.equal(fs.readFileSync(victim, 'utf8'), 'root-owned content\n');
  });

  it('refuses folders another user owns, or a parent others can write, naming the path', async () => {
    const theirs = path.join(dir, 'theirs');
    fs.mkdirSync(theirs, { mode: 0o700 });
    fs.chownSync(theirs, NOBODY, NOBODY);
    let r = await daemonWith(path.join(theirs, 'data'), path.join(dir, 'run'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${theirs} belongs to uid ${NOBODY}, not root`));
    assert.equal(fs.existsSync(path.join(theirs, 'data')), false, 'nothing made inside it');

    const open = path.join(dir, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    r = await daemonWith(path.join(dir, 'data'), path.join(open, 'deeper', 'run'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${open} can be written by users other than root`));

    // A link to elsewhere that another user owns (in a sticky folder they could replace it at will).
    const sticky = path.join(dir, 'sticky');
    fs.mkdirSync(sticky);
    fs.chmodSync(sticky, 0o1777);
    fs.mkdirSync(path.join(dir, 'real'), { mode: 0o700 });
    fs.symlinkSync(path.join(dir, 'real'), path.join(sticky, 'link'));
    fs.lchownSync(path.join(sticky, 'link'), NOBODY, NOBODY);
    r = await daemonWith(path.join(sticky, 'link', 'data'), path.join(dir, 'run'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sticky\/link is a symbolic link that belongs to uid 65534/);
  });

  it('refuses a store file that is a link, or belongs to another user', async () => {
    const data = path.join(dir, 'data');
    fs.mkdirSync(data, { mode: 0o700 });
    fs.writeFileSync(path.join(dir, 'elsewhere.db'), '');
    fs.symlinkSync(path.join(dir, 'elsewhere.db'), path.join(data, 'sipa.db'));
    let r = await daemonWith(data, path.join(dir, 'run'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sipa\.db is a symbolic link/);
    fs.rmSync(path.join(data, 'sipa.db'));
    fs.writeFileSync(path.join(data, 'sipa.enforce'), '{}');
    fs.chownSync(path.join(data, 'sipa.enforce'), NOBODY, NOBODY);
    r = await daemonWith(data, path.join(dir, 'run'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /sipa\.enforce belongs to uid 65534/);
  });

  it('ownFolder follows root\'s own links (e.g. /var/run → /run) and accepts a sticky parent only on the way', () => {
    fs.mkdirSync(path.join(dir, 'target'), { mode: 0o755 });
    fs.symlinkSync('target', path.join(dir, 'alias'));
    assert.equal(ownFolder(path.join(dir, 'alias', 'state')), path.join(dir, 'target', 'state'));
    assert.ok(isMarked(path.join(dir, 'alias', 'state')), 'the marker names the real path; the link reads the same');
    const sticky = path.join(dir, 'tmpish');
    fs.mkdirSync(sticky);
    fs.chmodSync(sticky, 0o1777);
    assert.throws(() => ownFolder(sticky), (e: unknown) => e instanceof UntrustedPathError && e.path === sticky);
    assert.equal(mode(path.dirname(ownFolder(path.join(sticky, 'mine')))), 0o1777);
  });
});
