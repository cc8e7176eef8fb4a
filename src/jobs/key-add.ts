import { KvmopsError } from '../domain/errors.js';
import { MAX_KEYS_PER_PERSON, defaultKeyNames, type SshPublicKey } from '../domain/ssh-keys.js';
import { immediate, type StoreContext } from './context.js';
import { rowToKey, type KeyRow } from './key-list.js';
import type { StoredSshKey } from './types.js';

const COUNT = `SELECT count(*) AS n FROM ssh_keys WHERE user_id = ?`;
const BY_FINGERPRINT = `SELECT * FROM ssh_keys WHERE user_id = ? AND fingerprint = ?`;
const BY_NAME = `SELECT 1 FROM ssh_keys WHERE user_id = ? AND name = ?`;
const INSERT = `
INSERT INTO ssh_keys (user_id, name, type, bits, fingerprint, line, created_at)
VALUES (@userId, @name, @type, @bits, @fingerprint, @line, @now)
RETURNING *`;

/**
 * `/key add`: stores a parsed key (src/domain/ssh-keys.ts) for a person, in one IMMEDIATE
 * transaction. Refused, with nothing written: the same key already stored (`key-exists`, any
 * name or comment: same fingerprint), the name taken by another of their keys (`name-taken`),
 * more than MAX_KEYS_PER_PERSON keys (`invalid-input`). Without a name, the first free of
 * `defaultKeyNames`. The unique indexes back the checks (a race loses there, as the same codes).
 */
export function addKeyOp(ctx: StoreContext): (userId: string, key: SshPublicKey, name?: string) => StoredSshKey {
  const count = ctx.db.prepare<[string], { n: number }>(COUNT);
  const byFingerprint = ctx.db.prepare<[string, string], KeyRow>(BY_FINGERPRINT);
  const byName = ctx.db.prepare<[string, string], 1>(BY_NAME).pluck();
  const insert = ctx.db.prepare(INSERT);
  return immediate(ctx.db, (userId: string, key: SshPublicKey, name?: string): StoredSshKey => {
    const same = byFingerprint.get(userId, key.fingerprint);
    if (same) {
      throw new KvmopsError('key-exists', `You already added this key, as "${same.name}" (${key.fingerprint}).`, {
        details: { name: same.name, fingerprint: key.fingerprint },
      });
    }
    const n = count.get(userId)!.n;
    if (n >= MAX_KEYS_PER_PERSON) {
      throw new KvmopsError('invalid-input', `You have ${n} keys, the most one person may keep; remove one first (/key remove).`, {
        details: { max: MAX_KEYS_PER_PERSON },
      });
    }
    let chosen = name;
    if (chosen === undefined) chosen = defaultKeyNames(key).find((c) => byName.get(userId, c) === undefined);
    else if (byName.get(userId, chosen) !== undefined) {
      throw new KvmopsError('name-taken', `You already have a key named "${chosen}"; choose another name or remove that one first.`, {
        details: { names: [chosen] },
      });
    }
    if (chosen === undefined) throw new KvmopsError('invalid-input', 'give the key a name (name:…)');
    const row = insert.get({ userId, name: chosen, type: key.type, bits: key.bits, fingerprint: key.fingerprint, line: key.line, now: ctx.now() }) as KeyRow;
    return rowToKey(row);
  });
}
