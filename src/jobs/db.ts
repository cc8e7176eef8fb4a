import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { migrate } from './migrations/index.js';

/** The connection type, re-exported so code outside src/jobs never imports better-sqlite3. */
export type Database = BetterSqlite3.Database;

/**
 * How long one statement waits for another process's write lock before failing with
 * SQLITE_BUSY (→ KvmopsError `db-busy`, see context.ts). better-sqlite3 is synchronous: this
 * wait blocks the whole event loop — Discord's 3-second interaction deadline, heartbeats,
 * everything — so it is kept to a few milliseconds, and the callers that must not lose a write
 * retry it asynchronously instead (retry.ts). Commits in this process take well under that.
 */
export const BUSY_TIMEOUT_MS = 5;

/**
 * While opening (migrations take the write lock) nothing else runs yet, so waiting is harmless
 * and failing would stop the bot from starting next to a busy backup or a second process.
 */
export const OPEN_BUSY_TIMEOUT_MS = 5_000;

/**
 * The pragmas every connection uses (the bench's bare baseline uses the same). WAL lets readers
 * run beside the one writer (a lock held by another process never blocks a read); synchronous=FULL
 * makes a committed job survive power loss; busy_timeout: see BUSY_TIMEOUT_MS.
 */
export function applyPragmas(db: Database, busyTimeoutMs: number = BUSY_TIMEOUT_MS): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma(`busy_timeout = ${busyTimeoutMs}`);
  db.pragma('foreign_keys = ON');
}

/** Opens (creating the file and its directory if needed) and migrates the kvmops database. */
export function openDatabase(file: string): Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new BetterSqlite3(file);
  try {
    applyPragmas(db, OPEN_BUSY_TIMEOUT_MS);
    migrate(db);
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}
