/**
 * Request ids (src/jobs/migrations/003_request_ids.ts): made at enqueue, stable for the job,
 * never repeated — not by a restored copy of the database, whose autoincrement ids come again,
 * nor by a database written before the column existed.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { isValidName } from '../../src/domain/names.js';
import { openDatabase } from '../../src/jobs/db.js';
import { MIGRATIONS, migrate } from '../../src/jobs/migrations/index.js';
import { openStore, snapshotRevert, tempDbFile, vmStart } from './helpers.js';

const REQUEST_ID = /^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('every job gets its own random request id at enqueue, a valid name, the same when read back and when claimed', (t) => {
  const store = openStore(t, tempDbFile(t));
  const a = store.enqueue(vmStart('web'));
  const b = store.enqueue(vmStart('db'));
  assert.match(a.requestId, REQUEST_ID);
  assert.match(b.requestId, REQUEST_ID);
  assert.notEqual(a.requestId, b.requestId);
  assert.ok(isValidName(a.requestId), 'the hypervisor checks it as a name (it becomes part of host records)');
  assert.equal(store.get(a.id)!.requestId, a.requestId);
  const claimed = store.claim('w', 30_000)!;
  assert.equal(claimed.job.requestId, a.requestId);
});

test('a restored copy of the database hands out the same job numbers again, but never the same request ids', (t) => {
  const file = tempDbFile(t);
  const store = openStore(t, file);
  const first = store.enqueue({ ...snapshotRevert('web', 'known-good'), needsApproval: false });
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  const backup = `${file}.backup`;
  copyFileSync(file, backup); // what the backup holds: job 1 only
  const later = store.enqueue(vmStart('web')); // job 2 in the live database

  const restored = openStore(t, backup);
  const again = restored.enqueue(vmStart('db')); // job 2 again, in the restored copy
  assert.equal(again.id, later.id, 'the same job number');
  assert.notEqual(again.requestId, later.requestId, 'a different request id');
  assert.equal(restored.get(first.id)!.requestId, first.requestId, 'the backed-up job keeps its own');
});

test('v2 → v3: jobs written before get job-<id> (what their attempts already used on the host); the ids are unique', (t) => {
  const file = tempDbFile(t);
  mkdirSync(dirname(file), { recursive: true });
  const raw = new BetterSqlite3(file);
  migrate(raw, MIGRATIONS.slice(0, 2));
  const insert = raw.prepare(
    `INSERT INTO jobs (kind, payload, state, lock_key, host, dedupe_key, run_at, max_attempts, requester_id,
       requester_name, notify_adapter, notify_channel_id, created_at, updated_at, lease_expires_at)
     VALUES ('snapshot.revert', '{"host":"local","vm":"web","name":"s1"}', ?, 'local/vm/web', 'local', ?, 0, 3, 'u', 'n', 'shell', 'c', 0, 0, ?)`,
  );
  insert.run('running', 'a', 1);
  insert.run('succeeded', 'b', null);
  raw.close();

  const db = openDatabase(file);
  t.after(() => db.close());
  assert.deepEqual(db.prepare('SELECT id, request_id FROM jobs ORDER BY id').all(), [
    { id: 1, request_id: 'job-1' },
    { id: 2, request_id: 'job-2' },
  ]);
  assert.throws(() => db.prepare(`UPDATE jobs SET request_id = 'job-1' WHERE id = 2`).run(), /UNIQUE constraint failed/);
});
