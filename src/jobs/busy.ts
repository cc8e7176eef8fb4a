import BetterSqlite3 from 'better-sqlite3';
import { KvmopsError } from '../domain/errors.js';

/**
 * SQLite result codes that mean "not now", not "wrong": another connection holds the write
 * lock (BUSY, including BUSY_SNAPSHOT / BUSY_RECOVERY), a table is locked (LOCKED), or the disk
 * or max_page_count is full (FULL). The statement — or the whole transaction, which
 * better-sqlite3 rolls back — did not happen, so doing it again later is safe.
 */
const TRANSIENT_SQLITE = /^SQLITE_(BUSY|LOCKED|FULL)(_|$)/;

/**
 * `e` as KvmopsError `db-busy` when it is a transient SQLite error (the SqliteError is the
 * cause; details.sqlite its code); anything else unchanged.
 */
export function asDbBusy(e: unknown): unknown {
  if (!(e instanceof BetterSqlite3.SqliteError) || !TRANSIENT_SQLITE.test(e.code)) return e;
  const what = e.code.startsWith('SQLITE_FULL') ? 'the database is full' : 'the database is locked by another connection';
  return new KvmopsError('db-busy', `${what}; nothing was written (${e.code})`, { cause: e, details: { sqlite: e.code } });
}

/** Runs `fn` now, reporting a transient SQLite error as `db-busy` (statements outside `immediate`). */
export function reportingBusy<R>(fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    throw asDbBusy(e);
  }
}
