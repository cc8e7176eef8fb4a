import { readFile } from 'node:fs/promises';
import { isKvmopsError } from '../domain/errors.js';
import { parseSshPublicKey } from '../domain/ssh-keys.js';

/**
 * KVMOPS_SSH_KEYS_FILE: the team's SSH public keys, put into every VM kvmops deploys. The file is
 * authorized_keys-like: one key a line (`TYPE BASE64 [comment]`), blank lines and `#` comments
 * skipped. Each key is checked as `/key add` checks one (src/domain/ssh-keys.ts); options in
 * front of a key are not accepted. Read once, at start-up, with fs/promises.
 *
 * Never a crash: a bad line is reported as `FILE:LINE: reason` and left out; a file that cannot
 * be read is reported and gives no keys. The caller logs the problems (loudly: a VM the team
 * expected to reach would lack their keys).
 */
export interface TeamKeys {
  /** Canonical key lines, in file order, each key once. */
  keys: string[];
  /** `FILE:LINE: reason`, or `FILE: reason` when the file could not be read. */
  problems: string[];
}

export function parseTeamKeys(file: string, text: string): TeamKeys {
  const out: TeamKeys = { keys: [], problems: [] };
  const seen = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    try {
      const key = parseSshPublicKey(line);
      if (seen.has(key.fingerprint)) {
        out.problems.push(`${file}:${i + 1}: the same key again (${key.fingerprint}); used once`);
        return;
      }
      seen.add(key.fingerprint);
      out.keys.push(key.line);
    } catch (e) {
      if (!isKvmopsError(e)) throw e;
      out.problems.push(`${file}:${i + 1}: ${e.message}`);
    }
  });
  return out;
}

/** The team keys of `file` (none when `file` is undefined). */
export async function readTeamKeys(file: string | undefined): Promise<TeamKeys> {
  if (file === undefined) return { keys: [], problems: [] };
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    return { keys: [], problems: [`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); no team keys`] };
  }
  return parseTeamKeys(file, text);
}
