#!/usr/bin/env node
// Reduce a `npm ci --omit=dev` tree to what the service loads at run time.
//   node prune-modules.cjs <app dir holding package.json and node_modules>
// Walks `dependencies` from the app's package.json, skipping edges that only serve installing or compiling
// (sqlite3 -> prebuild-install/tar/node-addon-api, netlink -> node-addon-api/@types/node), and removes every
// package outside that closure, then the build-only files of the native packages. Prints what it removed.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const BUILD_ONLY_EDGES = {
  sqlite3: ['prebuild-install', 'tar', 'node-addon-api', 'node-gyp'],
  netlink: ['node-addon-api', '@types/node'],
};
const BUILD_ONLY_FILES = {
  sqlite3: ['deps', 'src', 'binding.gyp', 'build'],  // build/ is replaced by the cross-compiled addon afterwards
  koffi: ['vendor', 'doc', 'cnoke.cjs', 'CHANGELOG.md'],
  netlink: ['src', 'binding.gyp', 'README.md'],
};

const app = path.resolve(process.argv[2] || '.');
const nm = path.join(app, 'node_modules');
const readPkg = (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));

// Node's resolution from a package dir: nearest node_modules/<name> walking up (npm hoists, so this is enough).
function resolveDir(fromDir, name) {
  let dir = fromDir;
  for (;;) {
    const cand = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(cand, 'package.json'))) return cand;
    if (dir === app) return null;
    dir = path.dirname(dir);
  }
}

const keep = new Set();
const queue = [[app, readPkg(app)]];
while (queue.length) {
  const [dir, pkg] = queue.shift();
  const skip = BUILD_ONLY_EDGES[pkg.name] || [];
  for (const dep of Object.keys(pkg.dependencies || {})) {
    if (skip.includes(dep)) continue;
    const d = resolveDir(dir, dep);
    if (!d) throw new Error(`${pkg.name} needs ${dep}, which is not installed under ${nm}`);
    if (keep.has(d)) continue;
    keep.add(d);
    queue.push([d, readPkg(d)]);
  }
}

// Every installed package dir (scoped and nested).
function listPackages(nmDir, out) {
  if (!fs.existsSync(nmDir)) return out;
  for (const ent of fs.readdirSync(nmDir).sort()) {
    if (ent.startsWith('.')) continue;
    const p = path.join(nmDir, ent);
    if (ent.startsWith('@')) { listPackages(p, out); continue; }
    out.push(p);
    listPackages(path.join(p, 'node_modules'), out);
  }
  return out;
}

let removed = 0;
for (const p of listPackages(nm, [])) {
  if (!fs.existsSync(p) || keep.has(p)) continue;
  // A kept package may live below a removed one only if npm nested it there; never remove such a parent.
  if ([...keep].some((k) => k.startsWith(p + path.sep))) continue;
  fs.rmSync(p, { recursive: true, force: true });
  removed++;
}
for (const d of fs.readdirSync(nm)) {          // empty scope dirs, npm's bookkeeping
  const p = path.join(nm, d);
  if (d.startsWith('@') && fs.readdirSync(p).length === 0) fs.rmdirSync(p);
}
fs.rmSync(path.join(nm, '.package-lock.json'), { force: true });
fs.rmSync(path.join(nm, '.bin'), { recursive: true, force: true });
for (const [name, files] of Object.entries(BUILD_ONLY_FILES)) {
  const d = path.join(nm, name);
  for (const f of files) fs.rmSync(path.join(d, f), { recursive: true, force: true });
}
console.log(`kept ${keep.size} packages, removed ${removed}`);
