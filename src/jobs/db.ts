import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { migrate } from './migrations/index.js';

/** The connection type, re-exported so code outside src/jobs never imports better-sqlite3. */
export type Database = BetterSqlite3.Database;

/**
 * The pragmas every connection uses (the bench's bare baseline uses the same). WAL lets readers
 * run beside the one writer; synchronous=FULL makes a committed job survive power loss;
 * busy_timeout makes a second process wait for the write lock instead of failing at once.
 */
export function applyPragmas(db: Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
}

/** Opens (creating the file and its directory if needed) and migrates the kvmops database. */
export function openDatabase(file: string): Database {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new BetterSqlite3(file);
  try {
    applyPragmas(db);
    migrate(db);
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}
