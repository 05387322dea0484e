import { StoreError } from './errors';

// Rows from disk: a file edited by hand or damaged in a way integrity_check cannot see must not turn into a
// device with an unknown state; the error names table, row and column so the admin can find it.

export function rowEnum<T extends string>(table: string, id: unknown, column: string, value: unknown, allowed: readonly T[]): T {
  // The allowed value itself, not the row's copy: thousands of rows then share one string in memory.
  const at = typeof value === 'string' ? (allowed as readonly string[]).indexOf(value) : -1;
  if (at >= 0) return allowed[at];
  throw new StoreError('store_row_invalid', `store: ${table} row ${String(id)}: unknown ${column} ${JSON.stringify(value)} (expected ${allowed.join('|')})`);
}

export function rowInt(table: string, id: unknown, column: string, value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  throw new StoreError('store_row_invalid', `store: ${table} row ${String(id)}: ${column} is ${JSON.stringify(value)}, not an integer`);
}

export function rowIntOrNull(table: string, id: unknown, column: string, value: unknown): number | null {
  return value === null ? null : rowInt(table, id, column, value);
}

/** A column that must be empty in this row (e.g. the expiry of a registration until revoked). */
export function rowNull(table: string, id: unknown, column: string, value: unknown): null {
  if (value === null) return null;
  throw new StoreError('store_row_invalid', `store: ${table} row ${String(id)}: ${column} is ${JSON.stringify(value)}, not empty as its policy requires`);
}

export function rowText(table: string, id: unknown, column: string, value: unknown): string {
  if (typeof value === 'string') return value;
  throw new StoreError('store_row_invalid', `store: ${table} row ${String(id)}: ${column} is ${JSON.stringify(value)}, not text`);
}

export function rowTextOrNull(table: string, id: unknown, column: string, value: unknown): string | null {
  return value === null ? null : rowText(table, id, column, value);
}

// Inputs: the types say what is allowed; these catch what slips past them at run time (NaN, 1.5, '').

export function inputTime(what: string, value: number): number {
  if (Number.isSafeInteger(value) && value >= 0) return value;
  throw new StoreError('invalid_input', `store: ${what} must be a UTC time in whole milliseconds, got ${String(value)}`);
}

export function inputId(what: string, value: number): number {
  if (Number.isSafeInteger(value) && value > 0) return value;
  throw new StoreError('invalid_input', `store: ${what} must be a positive integer id, got ${String(value)}`);
}

export function inputNonEmpty(what: string, value: string): string {
  if (typeof value === 'string' && value.length > 0) return value;
  throw new StoreError('invalid_input', `store: ${what} must be a non-empty string, got ${JSON.stringify(value)}`);
}
