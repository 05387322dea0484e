// `sipa register --from FILE` and `sipa revoke --from FILE`: one device per line, as JSON lines
// ({"address": "203.0.113.7", "for": "2h", "label": "Anna's phone"}) or CSV (address,for,label; a first line
// naming the columns is skipped; "for" is a duration or `until-revoked`; a label with a comma is quoted as in RFC 4180). `#` lines and blank lines are
// skipped. FILE `-` is standard input. Each item remembers its line, so the daemon's refusal names the line.
import fs from 'node:fs';
import { parseDuration, DurationError } from '../domain/duration';

export class BatchFileError extends Error {
  override readonly name = 'BatchFileError';
}

export interface BatchLine<T> {
  line: number;
  item: T;
}

export interface RegisterItem {
  address: string;
  label?: string;
  expiry: { policy: 'fixed'; seconds: number } | { policy: 'until-revoked' };
}

/** The `for` of a line that registers a device with no end (where the daemon's policy allows it). */
export const UNTIL_REVOKED = 'until-revoked';

const MAX_REPORTED = 10;

function readLines(file: string): Array<{ line: number; text: string }> {
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new BatchFileError(`cannot read ${file}: ${(e as Error).message}`);
  }
  return text.replace(/^\uFEFF/, '').split(/\r?\n/).map((t, i) => ({ line: i + 1, text: t.trim() }))
    .filter(l => l.text !== '' && !l.text.startsWith('#'));
}

/** One CSV record (RFC 4180 quoting, one physical line). */
function csvFields(text: string, line: number): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new BatchFileError(`line ${line}: a quoted field is not closed`);
        if (text[i] === '"' && text[i + 1] === '"') { field += '"'; i += 2; continue; }
        if (text[i] === '"') { i++; break; }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',') throw new BatchFileError(`line ${line}: text after a closing quote`);
    } else {
      const end = text.indexOf(',', i);
      field = (end < 0 ? text.slice(i) : text.slice(i, end)).trim();
      i = end < 0 ? text.length : end;
    }
    out.push(field);
    if (i >= text.length) return out;
    i++; // the comma
  }
}

function fields(text: string, line: number, columns: string[]): Record<string, unknown> {
  if (text.startsWith('{')) {
    try {
      const v = JSON.parse(text) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch { /* reported below */ }
    throw new BatchFileError(`line ${line}: not a JSON object`);
  }
  const values = csvFields(text, line);
  if (values.length > columns.length) throw new BatchFileError(`line ${line}: ${values.length} columns, at most ${columns.length} (${columns.join(',')})`);
  return Object.fromEntries(values.map((v, i) => [columns[i], v]).filter(([, v]) => v !== ''));
}

function collect<T>(file: string, columns: string[], make: (f: Record<string, unknown>, line: number) => T): Array<BatchLine<T>> {
  const lines = readLines(file);
  if (lines.length && lines[0].text.toLowerCase().replace(/\s/g, '').startsWith(columns[0])) lines.shift();
  const out: Array<BatchLine<T>> = [];
  const errors: string[] = [];
  for (const { line, text } of lines) {
    try {
      out.push({ line, item: make(fields(text, line, columns), line) });
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  if (errors.length) {
    throw new BatchFileError(`${file}: ${errors.length} bad line(s), nothing was sent: ${errors.slice(0, MAX_REPORTED).join('; ')}${errors.length > MAX_REPORTED ? '; …' : ''}`);
  }
  if (out.length === 0) throw new BatchFileError(`${file}: no devices in it`);
  return out;
}

/** `defaultFor`: the --for of the command line (or UNTIL_REVOKED for --until-revoked), for lines that give none. */
export function readRegisterFile(file: string, defaultFor: string | undefined): Array<BatchLine<RegisterItem>> {
  return collect(file, ['address', 'for', 'label'], (f, line) => {
    const known = new Set(['address', 'for', 'label']);
    for (const k of Object.keys(f)) if (!known.has(k)) throw new BatchFileError(`line ${line}: unknown field "${k}" (address, for, label)`);
    if (typeof f.address !== 'string' || f.address === '') throw new BatchFileError(`line ${line}: no address`);
    const forText = f.for === undefined ? defaultFor : String(f.for);
    if (forText === undefined) throw new BatchFileError(`line ${line}: no duration (give "for" on the line or --for on the command line)`);
    let expiry: RegisterItem['expiry'];
    try {
      expiry = forText === UNTIL_REVOKED ? { policy: 'until-revoked' } : { policy: 'fixed', seconds: parseDuration(forText, 'for') };
    } catch (e) {
      if (e instanceof DurationError) throw new BatchFileError(`line ${line}: ${e.message} (or ${UNTIL_REVOKED})`);
      throw e;
    }
    if (f.label !== undefined && typeof f.label !== 'string') throw new BatchFileError(`line ${line}: label must be text`);
    return { address: f.address, ...(f.label !== undefined ? { label: f.label } : {}), expiry };
  });
}

export function readRevokeFile(file: string): Array<BatchLine<string | number>> {
  return collect(file, ['address'], (f, line) => {
    const v = f.address ?? f.id;
    if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
    if (typeof v === 'string' && v !== '') return v;
    throw new BatchFileError(`line ${line}: no address or id`);
  });
}

/** The daemon's per-item refusals, as the lines of the file they came from. */
export function itemsAsLines(items: unknown, lines: ReadonlyArray<{ line: number }>): string {
  if (!Array.isArray(items)) return '';
  return items.slice(0, MAX_REPORTED).map(it => {
    const e = it as { item?: number; message?: string };
    const line = typeof e.item === 'number' ? lines[e.item]?.line : undefined;
    return `line ${line ?? '?'}: ${e.message ?? 'refused'}`;
  }).join('\n');
}
