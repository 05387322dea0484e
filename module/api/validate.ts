// Request bodies checked against module/schemas/api-*.json. The first complaint names the field (dotted path)
// and says what was expected.
import fs from 'node:fs';
import path from 'node:path';
import Ajv, { ErrorObject, ValidateFunction } from 'ajv';
import { ApiError } from './errors';

// Compiled files live in dist/module/api; the schemas stay in module/schemas (as for the config).
const SCHEMA_DIR = path.resolve(__dirname, '..', '..', '..', 'module', 'schemas');

export type BodySchema = 'api-register' | 'api-revoke' | 'api-empty' | 'api-portal-bind' | 'api-register-batch' | 'api-revoke-batch' | 'api-add-address';

const compiled = new Map<BodySchema, ValidateFunction>();
let ajv: Ajv | null = null;

function validatorFor(name: BodySchema): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    ajv ??= new Ajv({ allErrors: false, strict: false, discriminator: true });
    const schema = JSON.parse(fs.readFileSync(path.join(SCHEMA_DIR, `${name}.schema.json`), 'utf8')) as object;
    v = ajv.compile(schema);
    compiled.set(name, v);
  }
  return v;
}

function fieldOf(e: ErrorObject): string {
  const base = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const p = e.params as Record<string, unknown>;
  const child = e.keyword === 'required' ? String(p.missingProperty)
    : e.keyword === 'additionalProperties' ? String(p.additionalProperty)
    : e.keyword === 'discriminator' ? String(p.tag)
    : null;
  return child ? (base ? `${base}.${child}` : child) : base;
}

function sentence(e: ErrorObject, field: string): string {
  const p = e.params as Record<string, unknown>;
  const name = field || 'the body';
  switch (e.keyword) {
    case 'required': return `${name} is missing`;
    case 'additionalProperties': return `unknown field "${String(p.additionalProperty)}"; remove it`;
    case 'type': return `${name} must be ${String(p.type) === 'integer' ? 'a whole number' : `a ${String(p.type)}`}`;
    case 'maxLength': return `${name} is too long (at most ${String(p.limit)} characters)`;
    case 'minLength': return `${name} must not be empty`;
    case 'minimum': return `${name} must be at least ${String(p.limit)}`;
    case 'maximum': return `${name} must be at most ${String(p.limit)}`;
    case 'discriminator': return `${name} must be "fixed" or "session"`;
    case 'const': return `${name} must be ${JSON.stringify(p.allowedValue)}`;
    default: return `${name} ${e.message ?? 'is not valid'}`;
  }
}

function codeFor(field: string): string {
  if (field === 'address') return 'bad_address';
  if (field === 'expiry' || field.startsWith('expiry.')) return 'bad_expiry';
  return 'bad_input';
}

/** Returns the body typed as T, or throws a 400 ApiError naming the field. */
export function checkBody<T>(name: BodySchema, body: unknown): T {
  const v = validatorFor(name);
  if (v(body)) return body as T;
  const e = (v.errors ?? [])[0];
  if (!e) throw new ApiError(400, 'bad_input', 'the request body is not valid');
  const field = fieldOf(e);
  throw new ApiError(400, codeFor(field), sentence(e, field), field || null);
}
