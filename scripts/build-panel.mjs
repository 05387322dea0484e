#!/usr/bin/env node
// Builds the QuFirewall panel into dist/panel/: the web component (sipa-panel.js, CSS inlined), the host page
// (index.html, host.js, host.css), manifest.json and the icon. Offline: esbuild only, no CDN, no fonts.
// Prints the size of each file, raw and gzip-compressed. Usage: node scripts/build-panel.mjs [outDir]
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'module', 'panel');
const given = process.argv[2];
if (given === '') {
  console.error('build-panel: the output folder is empty text; give a folder or nothing (dist/panel)');
  process.exit(2);
}
const out = path.resolve(given ?? path.join(root, 'dist', 'panel'));
// The folder is replaced whole: only an earlier build (or an empty folder) may be, never one that holds anything else.
if (fs.existsSync(out) && fs.readdirSync(out).length > 0 && !fs.existsSync(path.join(out, 'manifest.json'))) {
  console.error(`build-panel: ${out} is not an earlier panel build (no manifest.json); not replacing it`);
  process.exit(2);
}
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

const common = {
  bundle: true, minify: true, format: 'iife', target: ['chrome100', 'firefox100', 'safari16'],
  loader: { '.css': 'text' }, legalComments: 'none', logLevel: 'warning', charset: 'utf8',
};
await build({ ...common, entryPoints: [path.join(src, 'src', 'sipa-panel.ts')], outfile: path.join(out, 'sipa-panel.js') });
await build({ ...common, entryPoints: [path.join(src, 'host', 'host.ts')], outfile: path.join(out, 'host.js') });
for (const [from, to] of [['host/index.html', 'index.html'], ['host/host.css', 'host.css'], ['manifest.json', 'manifest.json'], ['icon.svg', 'icon.svg']]) {
  fs.copyFileSync(path.join(src, from), path.join(out, to));
}

let raw = 0;
let gz = 0;
for (const name of fs.readdirSync(out).sort()) {
  const data = fs.readFileSync(path.join(out, name));
  const z = zlib.gzipSync(data, { level: 9 }).length;
  raw += data.length;
  gz += z;
  console.log(`[build-panel] ${name.padEnd(16)} ${String(data.length).padStart(7)} B  gzip ${String(z).padStart(6)} B`);
}
console.log(`[build-panel] total            ${String(raw).padStart(7)} B  gzip ${String(gz).padStart(6)} B  → ${path.relative(root, out)}/`);
