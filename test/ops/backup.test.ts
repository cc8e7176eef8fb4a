import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { backupDatabase } from '../../src/jobs/backup.js';
import { openDatabase } from '../../src/jobs/db.js';
import { SqliteJobStore } from '../../src/jobs/store.js';
import { seed, tempDir, vmStart } from './helpers.js';

/** Backups in this process (beside another process, and the CLI: backup.slow.test.ts). */

test('the backup file is a plain rollback-journal database; the running store can use a restored copy', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'kvmops.db');
  const ids = seed(file, 20);
  const dest = join(dir, 'copy.db');
  const r = await backupDatabase(file, dest);
  assert.equal(r.jobs, 20);
  // Header bytes 18/19 = 1: rollback journal (2 would be WAL and want -wal/-shm beside it).
  const { readFileSync } = await import('node:fs');
  const header = readFileSync(dest).subarray(18, 20);
  assert.deepEqual([...header], [1, 1]);

  const store = new SqliteJobStore(openDatabase(dest));
  t.after(() => store.db.open && store.close());
  assert.equal(store.db.pragma('journal_mode', { simple: true }), 'wal', 'kvmops turns WAL back on');
  assert.equal(store.get(ids[19]!)?.state, 'succeeded');
  store.enqueue(vmStart('after-restore'));
});

test('backup refuses a missing database, a missing directory and itself, and leaves nothing behind', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(backupDatabase(join(dir, 'nope.db'), join(dir, 'b.db')), /no database at/);
  const file = join(dir, 'kvmops.db');
  seed(file, 1);
  await assert.rejects(backupDatabase(file, join(dir, 'no-such-dir', 'b.db')), /directory .* does not exist/);
  await assert.rejects(backupDatabase(file, file), /must not be the database itself/);
  assert.deepEqual(readdirSync(dir).filter((f) => !f.startsWith('kvmops.db')), []);
});
