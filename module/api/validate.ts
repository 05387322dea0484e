// Request bodies checked against module/schemas/api-*.schema.json (module/config/schemas.ts). The first
// complaint names the field (dotted path) and says what was expected.
import { firstFault } from '../config';
import { ApiError } from './errors';

export type BodySchema = 'api-register' | 'api-revoke' | 'api-empty' | 'api-portal-bind' | 'api-register-batch' | 'api-revoke-batch' | 'api-add-address';

function codeFor(field: string): string {
  if (field === 'address') return 'bad_address';
  if (field === 'expiry' || field.startsWith('expiry.')) return 'bad_expiry';
  return 'bad_input';
}

/** Returns the body typed as T, or throws a 400 ApiError naming the field. */
export function checkBody<T>(name: BodySchema, body: unknown): T {
  const fault = firstFault(`${name}.schema.json`, body, '', 'the body');
  if (!fault) return body as T;
  throw new ApiError(400, codeFor(fault.field), fault.text, fault.field || null);
}
