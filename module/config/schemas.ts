// Every JSON Schema of the product (module/schemas/*.schema.json) behind one Ajv instance, and one way to say
// what failed. The config file, the API's request bodies and the portal's messages are all checked here, and
// defaults are declared in the schemas only.
import fs from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

// Compiled files live in dist/module/config; the schemas stay in module/schemas, in the repository and in the
// packages alike.
const SCHEMA_DIR = path.resolve(__dirname, '..', '..', '..', 'module', 'schemas');

let ajv: Ajv | null = null;
const compiled = new Map<string, ValidateFunction>();

function instance(): Ajv {
  if (!ajv) {
    // allErrors: a config file gets every mistake named at once; useDefaults: the schemas hold the defaults;
    // verbose: an error carries its schema, so a sentence can name the values that would do.
    ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, discriminator: true, verbose: true });
    for (const file of fs.readdirSync(SCHEMA_DIR).filter(f => f.endsWith('.schema.json')).sort()) {
      ajv.addSchema(JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, file), 'utf8')) as object, file);
    }
  }
  return ajv;
}

/** The validator of a schema file (`config.schema.json`) or of one of its $defs (`…#/$defs/revoke`). */
export function validatorFor(ref: string): ValidateFunction {
  let v = compiled.get(ref);
  if (!v) {
    v = instance().getSchema(ref);
    if (!v) throw new Error(`no schema ${ref} in ${SCHEMA_DIR}`);
    compiled.set(ref, v);
  }
  return v;
}

export interface SchemaFault {
  /** Dotted path of the member at fault ('' for the value itself). */
  field: string;
  /** A sentence naming it and saying what was expected. */
  text: string;
}

/**
 * What failed, the most useful first. oneOf, if and const failures repeat a branch's complaint, so they come
 * only when nothing more specific was said. Fields are named under `prefix` ("body.expiry.seconds"); the value
 * itself, when it is at fault, as `root`.
 */
export function faultsOf(errors: readonly ErrorObject[] | null | undefined, prefix = '', root = 'the value'): SchemaFault[] {
  const all = errors ?? [];
  const specific = all.filter(e => e.keyword !== 'oneOf' && e.keyword !== 'const' && e.keyword !== 'if');
  return (specific.length ? specific : all).map(e => {
    const field = fieldOf(e);
    const name = [prefix, field].filter(Boolean).join('.') || root;
    return { field, text: sentence(e, name, [prefix, parentOf(e)].filter(Boolean).join('.')) };
  });
}

/** Checks `value`; null when it is valid, else its first fault. */
export function firstFault(ref: string, value: unknown, prefix = '', root = prefix || 'the value'): SchemaFault | null {
  const v = validatorFor(ref);
  return v(value) ? null : (faultsOf(v.errors, prefix, root)[0] ?? { field: '', text: `${root} is not valid` });
}

function parentOf(e: ErrorObject): string {
  return e.instancePath.replace(/^\//, '').replace(/\//g, '.');
}

function fieldOf(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  const child = e.keyword === 'required' ? String(p.missingProperty)
    : e.keyword === 'additionalProperties' ? String(p.additionalProperty)
    : e.keyword === 'discriminator' ? String(p.tag)
    : null;
  return [parentOf(e), child].filter(Boolean).join('.');
}

function sentence(e: ErrorObject, name: string, parent: string): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': return `${name} is missing`;
    case 'additionalProperties': return `unknown field "${String(p.additionalProperty)}"${parent ? ` in ${parent}` : ''}; remove it`;
    case 'type': return `${name} must be ${String(p.type) === 'integer' ? 'a whole number' : /^[aeiou]/.test(String(p.type)) ? `an ${String(p.type)}` : `a ${String(p.type)}`}`;
    case 'enum': return `${name} must be one of ${(p.allowedValues as unknown[]).map(v => JSON.stringify(v)).join(', ')}`;
    case 'maxLength': return `${name} is too long (at most ${String(p.limit)} characters)`;
    case 'minLength': return Number(p.limit) <= 1 ? `${name} must not be empty` : `${name} is too short (at least ${String(p.limit)} characters)`;
    case 'minimum': return `${name} must be at least ${String(p.limit)}`;
    case 'maximum': return `${name} must be at most ${String(p.limit)}`;
    case 'maxItems': return `${name} has too many items (at most ${String(p.limit)})`;
    case 'minItems': return `${name} needs at least ${String(p.limit)} item${Number(p.limit) === 1 ? '' : 's'}`;
    case 'pattern': return `${name} is not in the expected form`;
    case 'const': return `${name} must be ${JSON.stringify(p.allowedValue)}`;
    case 'discriminator': {
      const kinds = kindsOf(e.parentSchema, String(p.tag));
      return kinds.length ? `${name} must be ${kinds.map(k => JSON.stringify(k)).join(' or ')}` : `${name} is not a known kind`;
    }
    default: return `${name} ${e.message ?? 'is not valid'}`;
  }
}

/** The values a discriminator accepts: each oneOf branch's `const` for the tag. */
function kindsOf(schema: unknown, tag: string): unknown[] {
  const branches = (schema as { oneOf?: Array<{ properties?: Record<string, { const?: unknown }> }> } | undefined)?.oneOf ?? [];
  return branches.map(b => b.properties?.[tag]?.const).filter(k => k !== undefined);
}
