import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { isKvmopsError } from '../../src/domain/errors.js';
import { BUSY_TIMEOUT_MS, openDatabase } from '../../src/jobs/db.js';
import { MIGRATIONS, SCHEMA_VERSION, migrate, schemaVersion } from '../../src/jobs/migrations/index.js';
import { tempDbFile } from './helpers.js';

const tables = (db: BetterSqlite3.Database) =>
  (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as Array<{ name: string }>).map(
    (r) => r.name,
  );

test('a fresh database gets the whole schema and the pragmas; reopening changes nothing', (t) => {
  const file = tempDbFile(t);
  const db = openDatabase(file);
  assert.equal(schemaVersion(db), SCHEMA_VERSION);
  assert.deepEqual(tables(db), ['approvals', 'audit', 'host_state', 'inventory_hosts', 'inventory_snapshots', 'inventory_templates', 'inventory_vm_disks', 'inventory_vm_files', 'inventory_vms', 'job_counts', 'job_events', 'job_resources', 'jobs', 'schedule_runs', 'schedule_snapshots', 'schedules', 'ssh_keys']);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL');
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
  assert.equal(db.pragma('busy_timeout', { simple: true }), BUSY_TIMEOUT_MS, 'a few ms: a longer wait would block the event loop');
  assert.ok(BUSY_TIMEOUT_MS <= 20);
  db.close();

  const again = openDatabase(file);
  assert.equal(schemaVersion(again), SCHEMA_VERSION);
  assert.deepEqual(tables(again), ['approvals', 'audit', 'host_state', 'inventory_hosts', 'inventory_snapshots', 'inventory_templates', 'inventory_vm_disks', 'inventory_vm_files', 'inventory_vms', 'job_counts', 'job_events', 'job_resources', 'jobs', 'schedule_runs', 'schedule_snapshots', 'schedules', 'ssh_keys']);
  migrate(again);
  again.close();
});

test('versions are numbers, not positions: a gap in the list (a migration landing from another branch) is applied in order', (t) => {
  const file = tempDbFile(t);
  mkdirSync(dirname(file), { recursive: true });
  const raw = new BetterSqlite3(file);
  const gapped = [
    { version: 1, name: 'one', sql: 'CREATE TABLE one (a)' },
    { version: 3, name: 'three', sql: 'CREATE TABLE three (a)' },
  ];
  migrate(raw, gapped);
  assert.equal(schemaVersion(raw), 3);
  assert.deepEqual(tables(raw), ['one', 'three']);
  migrate(raw, gapped); // reopening: nothing again, and not refused as "newer than the code"
  assert.equal(schemaVersion(raw), 3);
  raw.close();
});

test('a database newer than the code is refused', (t) => {
  const file = tempDbFile(t);
  openDatabase(file).close();
  const raw = new BetterSqlite3(file);
  raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
  raw.close();
  assert.throws(() => openDatabase(file), (e: unknown) => isKvmopsError(e) && /newer than this kvmops/.test(e.message));
});

test('a failing migration leaves no trace and the version unchanged', (t) => {
  const file = tempDbFile(t);
  const db = openDatabase(file);
  t.after(() => db.close());
  const broken = [...MIGRATIONS, { version: SCHEMA_VERSION + 1, name: 'broken', sql: 'CREATE TABLE x (a); SELECT * FROM nope;' }];
  assert.throws(() => migrate(db, broken), /no such table: nope/);
  assert.equal(schemaVersion(db), SCHEMA_VERSION);
  assert.ok(!tables(db).includes('x'));
});

test('the state column refuses anything but the six states', (t) => {
  const db = openDatabase(tempDbFile(t));
  t.after(() => db.close());
  assert.throws(
    () =>
      db
        .prepare(
          `INSERT INTO jobs (kind, payload, state, lock_key, host, dedupe_key, run_at, max_attempts, requester_id,
             requester_name, notify_adapter, notify_channel_id, created_at, updated_at)
           VALUES ('vm.start', '{}', 'paused', 'k', 'h', 'd', 0, 1, 'u', 'n', 'shell', 'c', 0, 0)`,
        )
        .run(),
    /CHECK constraint failed/,
  );
});

test('v1 → v2: live jobs keep holding what they held (their lock key, exclusively); ended ones hold nothing', (t) => {
  const file = tempDbFile(t);
  mkdirSync(dirname(file), { recursive: true });
  const raw = new BetterSqlite3(file);
  migrate(raw, MIGRATIONS.slice(0, 1));
  const insert = raw.prepare(
    `INSERT INTO jobs (kind, payload, state, lock_key, host, dedupe_key, run_at, max_attempts, requester_id,
       requester_name, notify_adapter, notify_channel_id, created_at, updated_at, lease_expires_at)
     VALUES ('vm.start', '{"host":"local","vm":"web"}', ?, 'local/vm/web', 'local', ?, 0, 1, 'u', 'n', 'shell', 'c', 0, 0, ?)`,
  );
  insert.run('running', 'a', 1);
  insert.run('queued', 'b', null);
  insert.run('succeeded', 'c', null);
  raw.close();

  const db = openDatabase(file);
  t.after(() => db.close());
  assert.deepEqual(db.prepare('SELECT job_id, resource, mode, creates FROM job_resources ORDER BY job_id').all(), [
    { job_id: 1, resource: 'local/vm/web', mode: 'exclusive', creates: 0 },
    { job_id: 2, resource: 'local/vm/web', mode: 'exclusive', creates: 0 },
  ]);
});

test('versions may have gaps (numbers other branches hold): the runner goes by version', (t) => {
  const file = tempDbFile(t);
  mkdirSync(dirname(file), { recursive: true });
  const raw = new BetterSqlite3(file);
  t.after(() => raw.close());
  const withGap = [...MIGRATIONS, { version: SCHEMA_VERSION + 2, name: 'after a gap', sql: 'CREATE TABLE after_gap (a)' }];
  migrate(raw, withGap);
  assert.equal(schemaVersion(raw), SCHEMA_VERSION + 2);
  assert.ok(tables(raw).includes('after_gap') && tables(raw).includes('host_state'));
  // and again: nothing applied twice, no "newer than this kvmops"
  migrate(raw, withGap);
  assert.equal(schemaVersion(raw), SCHEMA_VERSION + 2);
  // listed out of order: still applied by version
  const file2 = tempDbFile(t);
  mkdirSync(dirname(file2), { recursive: true });
  const raw2 = new BetterSqlite3(file2);
  t.after(() => raw2.close());
  migrate(raw2, [...withGap].reverse());
  assert.equal(schemaVersion(raw2), SCHEMA_VERSION + 2);
});
