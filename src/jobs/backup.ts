import { access, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { KvmopsError } from '../domain/errors.js';
import type { Database } from './db.js';
import { schemaVersion } from './migrations/index.js';

/**
 * An online backup of the kvmops database with SQLite's backup API, safe while the bot's worker
 * writes (from this process or another one).
 *
 * Why it is consistent: the whole database is copied in ONE backup step. In WAL mode that step
 * is a read transaction — one snapshot of the database, all jobs committed before it began and
 * none after — and readers do not block the writer, so the worker keeps going. (Copying in
 * small steps would let another process's commit between two steps restart the copy from the
 * beginning, which under a busy worker may never finish.)
 *
 * The copy goes to `DEST.tmp`, is switched to a plain rollback journal (a backup is one
 * self-contained file, no -wal/-shm beside it; kvmops turns WAL back on when it opens a restored
 * file), checked with `PRAGMA integrity_check`, flushed, and only then renamed to DEST: a
 * crash or a failed check never leaves a half-written file under the name you asked for.
 *
 * Opening by file name does not migrate: backing up before an upgrade copies the old schema
 * as it is.
 *
 * Given the bot's own connection instead of a file name, the copy step and the integrity check
 * run on the bot's event loop (measured here: 0.43 s for 4,000 jobs, 9.6 MB): prefer
 * `npm run backup`, a process of its own, for anything but small databases.
 */

export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
}

export interface BackupResult {
  /** Absolute path of the backup written. */
  file: string;
  pages: number;
  bytes: number;
  /** Rows in the jobs table of the copy. */
  jobs: number;
  /** The copy's schema version (`user_version`). */
  schemaVersion: number;
  durationMs: number;
}

/** Every page in one step; better-sqlite3 caps the rate at 0x7fffffff. */
const ALL_PAGES = 0x7fffffff;

export async function backupDatabase(
  source: Database | string,
  dest: string,
  onProgress?: (p: BackupProgress) => void,
): Promise<BackupResult> {
  const started = performance.now();
  const file = resolve(dest);
  const tmp = `${file}.tmp`;
  if (!(await stat(dirname(file)).then((s) => s.isDirectory(), () => false))) {
    throw new KvmopsError('invalid-input', `cannot write the backup: directory ${dirname(file)} does not exist`);
  }

  const ownsSource = typeof source === 'string';
  const db = typeof source === 'string' ? await openSource(source) : source;
  if (typeof source === 'string' && resolve(source) === file) {
    db.close();
    throw new KvmopsError('invalid-input', 'the backup file must not be the database itself');
  }
  try {
    await removeWithSidecars(tmp);
    await db.backup(tmp, {
      progress: (p) => {
        onProgress?.(p);
        return ALL_PAGES;
      },
    });
  } catch (e) {
    await removeWithSidecars(tmp);
    throw new KvmopsError('internal', `backup failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  } finally {
    if (ownsSource) db.close();
  }

  let result: Omit<BackupResult, 'file' | 'bytes' | 'durationMs'>;
  try {
    result = verify(tmp);
  } catch (e) {
    await removeWithSidecars(tmp);
    throw e;
  }
  await rename(tmp, file);
  await fsyncDir(dirname(file));
  return { file, ...result, bytes: (await stat(file)).size, durationMs: performance.now() - started };
}

/**
 * A plain connection to an existing file: no migrations, no pragmas that write. Not `readonly`
 * on purpose: a read-only connection to a WAL database that nobody has open creates -wal and
 * -shm files it then cannot remove — owned by whoever ran the backup (root, say), which would
 * stop the bot's own user from opening its database. A normal connection removes them on close
 * when it is the last one, and leaves the bot's files alone while the bot runs.
 */
async function openSource(file: string): Promise<Database> {
  if (!(await access(file).then(() => true, () => false))) {
    throw new KvmopsError('invalid-input', `no database at ${resolve(file)} (KVMOPS_DB)`);
  }
  const db = new BetterSqlite3(file, { fileMustExist: true });
  // The worker's commits hold the write lock only briefly; wait for it rather than fail.
  db.pragma('busy_timeout = 5000');
  return db;
}

function verify(tmp: string): Omit<BackupResult, 'file' | 'bytes' | 'durationMs'> {
  const copy = new BetterSqlite3(tmp, { fileMustExist: true });
  try {
    copy.pragma('journal_mode = DELETE');
    const problems = (copy.pragma('integrity_check') as Array<{ integrity_check: string }>).map((r) => r.integrity_check);
    if (problems.length !== 1 || problems[0] !== 'ok') {
      throw new KvmopsError('internal', `the backup copy failed integrity_check: ${problems.slice(0, 5).join('; ')}`, {
        details: { problems: problems.slice(0, 20) },
      });
    }
    const hasJobs = copy.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'jobs'`).get() !== undefined;
    const jobs = hasJobs ? (copy.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n : 0;
    return {
      pages: copy.pragma('page_count', { simple: true }) as number,
      jobs,
      schemaVersion: schemaVersion(copy),
    };
  } finally {
    copy.close();
  }
}

async function removeWithSidecars(f: string): Promise<void> {
  for (const x of [f, `${f}-wal`, `${f}-shm`, `${f}-journal`]) await rm(x, { force: true });
}

async function fsyncDir(dir: string): Promise<void> {
  const fd = await open(dir, 'r').catch(() => undefined);
  try {
    await fd?.sync();
  } catch {
    // Not every filesystem lets a directory be fsynced; the rename itself has happened.
  } finally {
    await fd?.close();
  }
}
