// The driver's type, not db.ts's alias: db.ts runs these migrations, so importing it would close a circle.
import type BetterSqlite3 from 'better-sqlite3';
import { KvmopsError } from '../../domain/errors.js';
import { initial } from './001_initial.js';
import { jobResources } from './002_job_resources.js';
import { requestIds } from './003_request_ids.js';
import { smallEvents } from './004_small_events.js';
import { hotIndexes } from './005_hot_indexes.js';
import { inventory } from './006_inventory.js';
import { auditIndexes } from './007_audit_indexes.js';
import { inventoryUses } from './008_inventory_uses.js';
import { sshKeys } from './009_ssh_keys.js';
import { batches } from './010_batches.js';
import { templateCloudInit } from './011_template_cloud_init.js';
import { schedules } from './012_schedules.js';
import { hostState } from './013_host_state.js';

/**
 * Versioned migrations. The schema version lives in SQLite's `user_version` header field, which
 * is part of the transaction: a migration and its version bump commit together or not at all.
 * Append new migrations; never edit one that has shipped.
 */
export interface Migration {
  version: number;
  name: string;
  /** Run first, when present. */
  sql?: string;
  /** Then this, in the same transaction: for a change SQL alone cannot make (rows rewritten by code). */
  run?: (db: BetterSqlite3.Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', sql: initial },
  { version: 2, name: 'job resources', sql: jobResources },
  { version: 3, name: 'request ids', sql: requestIds },
  { version: 4, name: 'small events', run: smallEvents },
  { version: 5, name: 'hot indexes and job counts', sql: hotIndexes },
  { version: 6, name: 'inventory', sql: inventory },
  { version: 7, name: 'audit indexes', sql: auditIndexes },
  { version: 8, name: 'inventory file uses', sql: inventoryUses },
  { version: 9, name: 'ssh keys', sql: sshKeys },
  { version: 10, name: 'batches', sql: batches },
  { version: 11, name: 'template cloud-init', sql: templateCloudInit },
  { version: 12, name: 'schedules', sql: schedules },
  { version: 13, name: 'host state', sql: hostState },
];

/** The newest version a migration brings (versions may have gaps while branches land). */
export const SCHEMA_VERSION = latestVersion(MIGRATIONS);

function latestVersion(migrations: readonly Migration[]): number {
  return migrations.reduce((n, m) => Math.max(n, m.version), 0);
}

export function schemaVersion(db: BetterSqlite3.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the database up to SCHEMA_VERSION, one IMMEDIATE transaction per migration (so two
 * processes opening a fresh file at once do not both apply it: the second sees the new version).
 * Refuses a database written by newer code: running old code on it could corrupt what it does
 * not understand.
 */
export function migrate(db: BetterSqlite3.Database, migrations: readonly Migration[] = MIGRATIONS): void {
  // By version, not by position or count: a gap (a number another branch has taken and not yet
  // brought) is fine. A database already past a version skips it — so a missing number must be
  // filled before a database is made by code without it and then upgraded by code with it.
  const latest = latestVersion(migrations);
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  if (new Set(ordered.map((m) => m.version)).size !== ordered.length) throw new KvmopsError('internal', 'two migrations have the same version');
  const current = schemaVersion(db);
  if (current > latest) {
    throw new KvmopsError(
      'internal',
      `the database schema is version ${current}, newer than this kvmops (${latest}); upgrade kvmops`,
      { details: { dbVersion: current, codeVersion: latest } },
    );
  }
  for (const m of ordered) {
    db.transaction(() => {
      if (schemaVersion(db) >= m.version) return;
      if (m.sql) db.exec(m.sql);
      m.run?.(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}
