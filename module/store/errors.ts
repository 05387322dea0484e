export type StoreErrorCode =
  | 'store_open_failed'
  | 'store_read_failed'
  | 'store_write_failed'
  | 'store_full'
  | 'store_row_invalid'
  | 'store_closed'
  | 'invalid_input'
  | 'portal_sequence_backwards';

/** Every failure of the store reaches callers as this, with a code to branch on and a sentence for a person. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    /** The SQLite or OS code behind it (e.g. "SQLITE_FULL"), when there is one. */
    readonly reason: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Wraps a failure from sqlite3 or the file system; a StoreError passes through unchanged. */
export function storeErrorFrom(err: unknown, code: StoreErrorCode, what: string): StoreError {
  if (err instanceof StoreError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const reason = typeof e?.code === 'string' ? e.code : null;
  const detail = typeof e?.message === 'string' ? e.message : String(err);
  if (reason === 'SQLITE_FULL' || reason === 'ENOSPC' || reason === 'EDQUOT') {
    return new StoreError('store_full', `${what}: the data partition is full (${reason}); free space on it (sipa doctor shows where)`, reason, { cause: err });
  }
  return new StoreError(code, `${what}: ${detail}`, reason, { cause: err });
}

export function isCorruptionError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB';
}
