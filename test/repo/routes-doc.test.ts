import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';

/**
 * module/api/ROUTES.md says what the API serves and answers: every route server.ts serves has a row, every row
 * is served, and the error codes it lists are exactly those the API can answer.
 */
const REPO = path.resolve(__dirname, '..', '..', '..');
const read = (f: string): string => fs.readFileSync(path.join(REPO, f), 'utf8');

/** The paths of server.ts's route table: a string, or a pattern whose captured parts read as {}. */
function servedRoutes(server: string): string[] {
  const table = server.slice(server.indexOf('const ROUTES'), server.indexOf('async function route('));
  const exact = [...table.matchAll(/\{ path: '(\/api\/v1\/[a-z/-]*)'/g)].map(m => m[1]);
  const patterns = [...table.matchAll(/\{ path: \/\^\\\/api\\\/v1\\\/([^$]*)\$\//g)].map(m => `/api/v1/${m[1].replace(/\\\//g, '/').replace(/\([^)]*\)/g, '{}')}`);
  return [...new Set([...exact, ...patterns])].sort();
}

function documentedRoutes(doc: string): string[] {
  return [...new Set([...doc.matchAll(/^\| (?:GET|POST) \| (\/api\/v1\/[^|]*?) \|/gm)].map(m => m[1].replace(/\{[^}]*\}/g, '{}').replace(/\[.*$/, '')))].sort();
}

function answerableCodes(): string[] {
  const api = ['server.ts', 'errors.ts', 'qts-auth.ts', 'body.ts', 'validate.ts', 'static.ts', 'sse.ts', 'stream.ts']
    .map(f => path.join('module', 'api', f)).filter(f => fs.existsSync(path.join(REPO, f))).map(read).join('\n');
  const literal = [...api.matchAll(/ApiError\(\d+, '([a-z_]+)'/g)].map(m => m[1]);
  const classes = [...api.matchAll(/readonly code(?:: string)? = '([a-z_]+)'/g)].map(m => m[1]);
  const table = read('module/api/errors.ts');
  const mapped = [...table.slice(table.indexOf('const ENGINE_CODES')).matchAll(/^ {2}([a-z_]+): \{ status/gm)].map(m => m[1]);
  const validate = read('module/api/validate.ts');
  const fromBodies = [...validate.slice(validate.indexOf('function codeFor')).matchAll(/return '([a-z_]+)';/g)].map(m => m[1]);
  return [...new Set([...literal, ...classes, ...mapped, ...fromBodies])].sort();
}

function documentedCodes(doc: string): string[] {
  const section = doc.slice(doc.indexOf('## Errors'), doc.indexOf('\n## ', doc.indexOf('## Errors') + 1));
  const rows = section.split('\n').filter(l => /^\| \d{3} \|/.test(l));
  return [...new Set(rows.flatMap(r => [...r.matchAll(/`([a-z_]+)`/g)].map(m => m[1])))].sort();
}

describe('docs: ROUTES.md says what the API serves and answers', () => {
  const doc = read('module/api/ROUTES.md');

  it('every route the server serves has a row, and every row is served', () => {
    const served = servedRoutes(read('module/api/server.ts'));
    assert.ok(served.length >= 10, `found only ${served.length} routes in server.ts: ${served.join(' ')}`);
    assert.deepEqual(documentedRoutes(doc), served);
  });

  it('the error codes listed are exactly those the API can answer', () => {
    assert.deepEqual(documentedCodes(doc), answerableCodes());
  });
});
