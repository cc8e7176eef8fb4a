import { KvmopsError } from '../domain/errors.js';
import { immediate, type StoreContext } from './context.js';
import { rowToKey, type KeyRow } from './key-list.js';
import type { StoredSshKey } from './types.js';

const DELETE = `DELETE FROM ssh_keys WHERE user_id = ? AND name = ? RETURNING *`;

/**
 * `/key remove`: deletes one of a person's keys by name; `key-not-found` when they have none of
 * that name. VMs already deployed keep the key (their seed was written then): say so to the user.
 */
export function removeKeyOp(ctx: StoreContext): (userId: string, name: string) => StoredSshKey {
  const del = ctx.db.prepare<[string, string], KeyRow>(DELETE);
  return immediate(ctx.db, (userId: string, name: string) => {
    const row = del.get(userId, name);
    if (!row) throw new KvmopsError('key-not-found', `You have no key named "${name}" (see /key list).`, { details: { name } });
    return rowToKey(row);
  });
}
