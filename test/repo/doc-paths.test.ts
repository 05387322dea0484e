import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Every relative link and every file path a Markdown file of the repository names exists, so that a moved or
 * deleted file cannot leave a doc pointing at nothing. A path is looked for beside the Markdown file, then from the
 * repository's root; paths that name QNAP's QDK are looked for in the QDK the packaging tests use; the few that
 * name another project's source, or what a build makes, are listed below with why.
 */
const REPO = path.resolve(__dirname, '..', '..', '..');
const QDK = process.env.SIPA_QDK ?? path.resolve(REPO, '..', 'shared', 'vendor', 'QDK');

/** Named in the docs, not part of this repository. */
const ELSEWHERE: Record<string, string> = {
  'net/ipv4/netfilter/ip_tables.c': 'the Linux source',
  'shared/vendor/QDK': 'where the packaging tests find QDK, beside the repository',
  'api/v1/': 'a URL path of the API',
  'app/dist/panel/': 'a folder of the installed package',
  'app/dist/panel': 'a link target inside the installed package',
  'init.d/sipa.sh': 'a link target inside the firmware overlay',
};
/** What the build and the tests make: named so a reader can find it after they ran. */
const BUILT = ['dist/', 'build/', 'test-results/'];

function markdownFiles(): string[] {
  return execFileSync('git', ['ls-files', '*.md'], { cwd: REPO, encoding: 'utf8' }).split('\n').filter(Boolean);
}

interface Named { file: string; line: number; target: string; kind: 'link' | 'path' }

/** Relative link targets (`[x](target)`) and backticked relative paths (`dir/file.ext`, `dir/`). */
export function namedPaths(file: string, text: string): Named[] {
  const out: Named[] = [];
  const lines = text.split('\n');
  let fenced = false;
  lines.forEach((lineText, i) => {
    if (/^\s*```/.test(lineText)) fenced = !fenced;
    if (fenced) return;
    for (const m of lineText.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1].split('#')[0];
      if (!target || /^[a-z]+:/i.test(target)) continue;
      out.push({ file, line: i + 1, target, kind: 'link' });
    }
    for (const m of lineText.matchAll(/`([^`\s]+)`/g)) {
      const token = m[1].replace(/:\d+(-\d+)?$/, '');
      if (!/^(\.\.\/)*[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\/[A-Za-z0-9_.-]*$/.test(token)) continue;
      if (token.startsWith('./') || (!token.includes('.') && !token.endsWith('/'))) continue;
      out.push({ file, line: i + 1, target: token, kind: 'path' });
    }
  });
  return out;
}

function exists(named: Named): boolean {
  const target = named.target.replace(/^(\.\.\/)+/, prefix => (named.kind === 'link' ? prefix : ''));
  const beside = path.resolve(REPO, path.dirname(named.file), named.kind === 'link' ? named.target : target);
  if (fs.existsSync(beside)) return true;
  if (named.kind === 'link') return false;
  return fs.existsSync(path.resolve(REPO, target)) || fs.existsSync(path.resolve(QDK, target));
}

describe('docs: every path a Markdown file names exists', () => {
  it('finds relative links and backticked paths, and ignores URLs, absolute NAS paths and code blocks', () => {
    const found = namedPaths('x/README.md', [
      'see [the API](api/ROUTES.md#errors) and [QNAP](https://www.qnap.com/x/y.md)',
      'the file `module/engine/engine.ts:469` and the folder `scripts/packaging/`, not `/etc/config/uLinux.conf`',
      '```', '`in/a/block.ts`', '```', 'nor `a sentence/with spaces.md`',
    ].join('\n'));
    assert.deepEqual(found.map(f => [f.kind, f.target, f.line]), [
      ['link', 'api/ROUTES.md', 1], ['path', 'module/engine/engine.ts', 2], ['path', 'scripts/packaging/', 2],
    ]);
  });

  it('a Markdown file naming a file that is not there fails, with the file and line', () => {
    const missing = namedPaths('README.md', 'see `module/engine/no-such-file.ts`').filter(n => !exists(n));
    assert.deepEqual(missing.map(n => `${n.file}:${n.line} ${n.target}`), ['README.md:1 module/engine/no-such-file.ts']);
  });

  for (const file of markdownFiles()) {
    it(file, () => {
      const text = fs.readFileSync(path.join(REPO, file), 'utf8');
      const missing = namedPaths(file, text)
        .filter(n => !(n.target.replace(/^(\.\.\/)+/, '') in ELSEWHERE))
        .filter(n => !BUILT.some(b => n.target.startsWith(b)))
        .filter(n => !exists(n));
      assert.deepEqual(missing.map(n => `${n.file}:${n.line} names ${n.target}, which does not exist`), []);
    });
  }
});
