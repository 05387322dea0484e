// The portal's messages checked against module/schemas/portal-*.schema.json (module/config/schemas.ts). Errors
// name the member at fault under the prefix given ("body.expiry.seconds must be at most 2147483").
import { firstFault } from '../config';

/** Checks `value` against a schema file or one of its $defs; returns null or a sentence naming the field at fault. */
export function check(file: 'envelope' | 'commands' | 'messages', name: string | undefined, value: unknown, prefix: string): string | null {
  return firstFault(`portal-${file}.schema.json${name ? `#/$defs/${name}` : ''}`, value, prefix)?.text ?? null;
}
