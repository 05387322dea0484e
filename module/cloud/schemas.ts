// The portal schemas (module/schemas/portal-*.schema.json), compiled once. Errors name the path at fault.
import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

const SCHEMA_DIR = path.resolve(__dirname, '..', '..', '..', 'module', 'schemas');
const FILES = ['portal-envelope.schema.json', 'portal-commands.schema.json', 'portal-messages.schema.json'];

let ajv: Ajv | null = null;
const compiled = new Map<string, ValidateFunction>();

function instance(): Ajv {
  if (!ajv) {
    ajv = new Ajv({ allErrors: false, strict: false });
    for (const f of FILES) ajv.addSchema(JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, f), 'utf8')) as object);
  }
  return ajv;
}

/** A validator for `file#/$defs/name`, or the whole file when name is omitted. */
export function validator(file: 'envelope' | 'commands' | 'messages', name?: string): ValidateFunction {
  const ref = `portal-${file}.schema.json${name ? `#/$defs/${name}` : ''}`;
  let v = compiled.get(ref);
  if (!v) {
    v = instance().getSchema(ref);
    if (!v) throw new Error(`no schema ${ref}`);
    compiled.set(ref, v);
  }
  return v;
}

/** "body.expiry.seconds must be <= 2147483" */
export function describeErrors(prefix: string, errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return `${prefix} is not valid`;
  const where = `${prefix}${e.instancePath.replace(/\//g, '.')}`;
  if (e.keyword === 'additionalProperties') return `${where} has an unknown member "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  if (e.keyword === 'required') return `${where} lacks "${(e.params as { missingProperty: string }).missingProperty}"`;
  return `${where} ${e.message ?? 'is not valid'}`;
}

/** Checks `value` against a schema; returns null or a sentence naming the field at fault. */
export function check(file: 'envelope' | 'commands' | 'messages', name: string | undefined, value: unknown, prefix: string): string | null {
  const v = validator(file, name);
  return v(value) ? null : describeErrors(prefix, v.errors);
}
