import type { Query, Tx } from './database';
import { StoreError } from './errors';
import { inputNonEmpty, rowInt } from './validate';

export async function getPortalSequence(q: Query, bindingId: string): Promise<number | null> {
  const row = await q.get<{ last_sequence: unknown }>('SELECT last_sequence FROM portal_state WHERE binding_id = ?', [bindingId]);
  return row ? rowInt('portal_state', bindingId, 'last_sequence', row.last_sequence) : null;
}

/**
 * Records the last accepted sequence number. It only moves forward: a number at or below the stored one is a
 * replay and is refused, so the check and the update are one step under the write lock.
 */
export async function advancePortalSequence(tx: Tx, bindingId: string, seq: number): Promise<void> {
  inputNonEmpty('binding id', bindingId);
  if (!Number.isSafeInteger(seq) || seq < 0) throw new StoreError('invalid_input', `store: portal sequence must be a non-negative integer, got ${String(seq)}`);
  const last = await getPortalSequence(tx, bindingId);
  if (last !== null && seq <= last) {
    throw new StoreError('portal_sequence_backwards', `store: portal sequence ${seq} for binding ${bindingId} is not after the last accepted ${last}`);
  }
  await tx.run(
    'INSERT INTO portal_state (binding_id, last_sequence) VALUES (?, ?) ON CONFLICT (binding_id) DO UPDATE SET last_sequence = excluded.last_sequence',
    [bindingId, seq],
  );
}
