import type { Database } from 'better-sqlite3';
import type { StoredSshKey } from './types.js';

export interface KeyRow {
  id: number;
  user_id: string;
  name: string;
  type: string;
  bits: number;
  fingerprint: string;
  line: string;
  created_at: number;
}

export function rowToKey(r: KeyRow): StoredSshKey {
  return { name: r.name, type: r.type, bits: r.bits, fingerprint: r.fingerprint, line: r.line, createdAt: r.created_at };
}

/** A person's keys in name order (index `ssh_keys_user_name`): `/key list`, and what a deploy captures. */
export const LIST_KEYS_SQL = `SELECT * FROM ssh_keys WHERE user_id = ? ORDER BY name`;

export function listKeysOp(db: Database): (userId: string) => StoredSshKey[] {
  const list = db.prepare<[string], KeyRow>(LIST_KEYS_SQL);
  return (userId) => list.all(userId).map(rowToKey);
}
