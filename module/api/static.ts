// The built panel, served read-only at / from one directory. Only regular files whose real path (links
// followed) is inside that directory's real path; no dot files, no directory listings.
import fs from 'node:fs';
import path from 'node:path';
import type { ServerResponse } from 'node:http';

/** dist/module/api → dist/panel: where scripts/build-panel.mjs writes the panel. */
export const DEFAULT_PANEL_DIR = path.resolve(__dirname, '..', '..', 'panel');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

/** Resolves a URL path to a file in dir, or null. */
export function panelFile(dir: string, urlPath: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (rel.includes('\0')) return null;
  if (rel === '/' || rel === '') rel = '/index.html';
  const parts = rel.split('/').filter(Boolean);
  if (parts.some(p => p.startsWith('.'))) return null;
  let root: string;
  let real: string;
  try {
    root = fs.realpathSync(dir);
    real = fs.realpathSync(path.join(root, ...parts));
  } catch {
    return null;
  }
  if (!real.startsWith(root + path.sep)) return null;
  try {
    return fs.lstatSync(real).isFile() ? real : null;
  } catch {
    return null;
  }
}

export function sendFile(res: ServerResponse, file: string, head: boolean, headers: Record<string, string>): void {
  const type = TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  // The resolved path, opened without following a link that may have replaced it since.
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  let data: Buffer;
  try {
    if (!fs.fstatSync(fd).isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: 'not_found' });
    data = fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': String(data.length), 'Cache-Control': 'no-cache' });
  res.end(head ? undefined : data);
}
