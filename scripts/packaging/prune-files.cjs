#!/usr/bin/env node
// Reduce production node_modules to the files the module can load.
//   node prune-files.cjs <esbuild package dir> <app dir> <list of removed files (out)>
// <app dir> is laid out as in the package: dist/module (the compiled module) beside node_modules.
// esbuild follows, from dist/module/cli/main.js, every require/import it can read statically (lazy ones inside
// functions and error paths too), resolved as Node resolves them there; that set is kept, with each
// kept package's package.json (Node and `bindings` read it to resolve), its native addons (*.node: loaded by a
// computed path) and its licence files. Everything else goes. Then esbuild runs again over what is left and
// fails the build if a static require no longer resolves. The packaging test checks the other direction: a
// traced run of the daemon and the CLI loads nothing that was removed.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const [esbuildDir, appDir, listOut] = process.argv.slice(2);
const esbuild = require(path.resolve(esbuildDir));
const APP = path.resolve(appDir);
const NM = path.join(APP, 'node_modules');

function reachable() {
  const r = esbuild.buildSync({
    entryPoints: [path.join(APP, 'dist', 'module', 'cli', 'main.js')],
    bundle: true, platform: 'node', format: 'cjs', write: false, metafile: true, logLevel: 'silent',
    // koffi's per-CPU binary package is added whole after pruning (runtime.sh stage_runtime).
    external: ['*.node', '@koromix/*'], absWorkingDir: '/',
  });
  const inputs = Object.keys(r.metafile.inputs).map(f => path.resolve('/', f));
  const outside = inputs.filter(f => !f.startsWith(APP + path.sep));
  if (outside.length) throw new Error(`resolved outside ${APP} (a package missing from its node_modules?): ${outside.slice(0, 5).join(', ')}`);
  return inputs.filter(f => f.startsWith(NM + path.sep));
}

function walk(dir, out = []) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walk(p, out); else out.push(p);
  }
  return out;
}

/** The package dir holding a file: the nearest ancestor (below NM) with a package.json and a name. */
function packageDir(file) {
  for (let d = path.dirname(file); d.startsWith(NM + path.sep); d = path.dirname(d)) {
    const pj = path.join(d, 'package.json');
    if (fs.existsSync(pj) && JSON.parse(fs.readFileSync(pj, 'utf8')).name) return d;
  }
  return null;
}

let files;
try {
  files = reachable();
} catch (e) {
  console.error(`prune-files: esbuild cannot follow the module's requires before pruning:\n${e.message}`);
  process.exit(1);
}
const keep = new Set(files);
const packages = new Set(files.map(packageDir).filter(Boolean));
const all = walk(NM);
for (const f of all) {
  const pkg = packageDir(f);
  if (!pkg || !packages.has(pkg)) continue;
  const rel = path.relative(pkg, f);
  const base = path.basename(f);
  if (f.endsWith('.node') || (path.dirname(rel) === '.' && /^(package\.json|licen[cs]e|copying|notice)/i.test(base))) keep.add(f);
  // package.json files of nested folders that only redirect (e.g. "main" of a sub-entry) are read by Node too.
  if (base === 'package.json' && [...keep].some(k => k.startsWith(path.dirname(f) + path.sep))) keep.add(f);
}
const removed = all.filter(f => !keep.has(f)).sort();
let bytes = 0;
for (const f of removed) { bytes += fs.statSync(f).size; fs.rmSync(f); }
const prune = (d) => {   // empty folders
  for (const e of fs.readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) prune(path.join(d, e.name));
  if (d !== NM && fs.readdirSync(d).length === 0) fs.rmdirSync(d);
};
prune(NM);
fs.writeFileSync(listOut, removed.map(f => path.relative(path.dirname(NM), f)).join('\n') + '\n');
try {
  reachable();
} catch (e) {
  console.error(`prune-files: after pruning, a require no longer resolves:\n${e.message}`);
  process.exit(1);
}
console.log(`kept ${keep.size} files, removed ${removed.length} (${(bytes / 1048576).toFixed(2)} MiB)`);
