import type { Query, Tx } from './database';
import { StoreError } from './errors';
import { inputNonEmpty } from './validate';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export async function getSetting(q: Query, key: string): Promise<JsonValue | null> {
  const row = await q.get<{ value: unknown }>('SELECT value FROM settings WHERE key = ?', [key]);
  if (!row) return null;
  if (typeof row.value !== 'string') throw new StoreError('store_row_invalid', `store: settings row ${JSON.stringify(key)}: value is not text`);
  try {
    return JSON.parse(row.value) as JsonValue;
  } catch {
    throw new StoreError('store_row_invalid', `store: settings row ${JSON.stringify(key)}: value is not JSON`);
  }
}

/** Stores the value unless it is already what is stored; returns whether anything changed. */
export async function putSetting(tx: Tx, key: string, value: JsonValue): Promise<boolean> {
  inputNonEmpty('setting key', key);
  const text = JSON.stringify(value);
  if (text === undefined) throw new StoreError('invalid_input', `store: setting ${key} is not JSON-serialisable`);
  const r = await tx.run(
    'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE value <> excluded.value',
    [key, text],
  );
  return r.changes > 0;
}
