import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The layers hold: a file of module/ imports only from its own folder or a lower layer, and another layer only
 * through its face (the folder's index.ts). Type-only imports count too. The order is README.md's "Layout".
 */
const MODULE = path.resolve(__dirname, '..', '..', '..', 'module');

/** Lowest first. The CLI and the panel are the surfaces on top (the panel, bundled for the browser, takes the
 * domain's rules and the engine contract's types, so that it checks input as the CLI does). */
const ORDER = ['domain', 'config', 'store', 'kernel', 'engine', 'cloud', 'api', 'cli', 'panel'];

/**
 * Imports past a face, each with why. The CLI's client verbs load only what they use (sipa status answers in
 * ~40 ms, issue 12): the domain's face would load every rule for the one duration parser they need, the config's
 * face its validator for the socket's name.
 */
const PAST_FACE_ALLOWED: Record<string, string> = {
  'cli/main.ts -> domain/duration': 'the CLI fast path',
  'cli/format.ts -> domain/duration': 'the CLI fast path',
  'cli/batch-file.ts -> domain/duration': 'the CLI fast path',
  'cli/paths.ts -> config/socket': 'the CLI fast path (the config face would load its validator)',
};

export interface Import { from: string; to: string; line: number }

/** Relative imports of one TypeScript source (static, type-only, dynamic and require), as module/-relative paths. */
export function importsOf(file: string, text: string): Import[] {
  const out: Import[] = [];
  text.split('\n').forEach((lineText, i) => {
    for (const m of lineText.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*|^\s*import\s+)'(\.\.?\/[^']*)'/g)) {
      const to = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]));
      out.push({ from: file, to, line: i + 1 });
    }
  });
  return out;
}

/** What is wrong with one import, or null. */
export function violation(imp: Import): string | null {
  const fromLayer = imp.from.split('/')[0];
  const [toLayer, ...rest] = imp.to.split('/');
  if (toLayer === fromLayer) return null;
  const a = ORDER.indexOf(fromLayer);
  const b = ORDER.indexOf(toLayer);
  if (a < 0 || b < 0) return `${imp.from}:${imp.line} imports ${imp.to}: ${a < 0 ? fromLayer : toLayer} is in no layer (add it to ORDER and README.md's Layout)`;
  if (b > a) return `${imp.from}:${imp.line} imports ${imp.to}: ${fromLayer} may not import ${toLayer}, a higher layer`;
  const pastFace = rest.length > 0 && !(rest.length === 1 && rest[0] === 'index');
  if (pastFace && !(`${imp.from} -> ${imp.to}` in PAST_FACE_ALLOWED)) {
    return `${imp.from}:${imp.line} imports ${imp.to}: import '${toLayer}' (its index.ts) instead of a file behind it`;
  }
  return null;
}

function sources(dir: string, base = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e => {
    const rel = base ? `${base}/${e.name}` : e.name;
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(path.join(dir, e.name), rel);
    return /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts') ? [rel] : [];
  });
}

describe('layers: imports go down, and through faces', () => {
  it('catches an import up a layer and one past a face, and allows its own folder and a face', () => {
    const imps = importsOf('store/devices.ts', [
      "import type { Actor } from '../engine/contract';",
      "import { parseNetwork } from '../domain/address';",
      "import { x } from '../domain';",
      "import { y } from './audit';",
      "const m = await import('../domain/index');",
    ].join('\n'));
    assert.deepEqual(imps.map(violation), [
      "store/devices.ts:1 imports engine/contract: store may not import engine, a higher layer",
      "store/devices.ts:2 imports domain/address: import 'domain' (its index.ts) instead of a file behind it",
      null, null, null,
    ]);
  });

  it('every layer folder of module/ has a face', () => {
    const folders = fs.readdirSync(MODULE, { withFileTypes: true }).filter(e => e.isDirectory() && ORDER.includes(e.name)).map(e => e.name);
    const withoutFace = folders.filter(f => f !== 'cli' && f !== 'panel' && !fs.existsSync(path.join(MODULE, f, 'index.ts')));
    assert.deepEqual(withoutFace, []);
  });

  it('no file of module/ imports up a layer or past a face', () => {
    const files = sources(MODULE);
    assert.ok(files.length > 40, `found only ${files.length} sources under ${MODULE}`);
    const wrong = files.flatMap(f => importsOf(f, fs.readFileSync(path.join(MODULE, f), 'utf8'))).map(violation).filter(Boolean);
    assert.deepEqual(wrong, []);
  });

});
