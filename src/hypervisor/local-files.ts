import { access } from 'node:fs/promises';

/**
 * Whether a path exists on this machine, asked through fs/promises so a hung storage mount
 * stalls one thread of libuv's pool, never the event loop that serves chat and heartbeats.
 *
 * Unlike `existsSync`, only "it is not there" (ENOENT, ENOTDIR) is `false`; any other failure
 * (EACCES, EIO …) is thrown: a file that cannot be looked at is not a file that is absent, and
 * the callers that decide what to remove must not take one for the other.
 */
export async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw e;
  }
}
