import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { applyPragmas } from '../../src/jobs/db.js';
import { MIGRATIONS, migrate } from '../../src/jobs/migrations/index.js';
import { jobStats } from '../../src/jobs/stats.js';
import { fillHistory } from '../helpers/history.js';
import { openStore, tempDbFile, vmStart } from './helpers.js';

const groupBy = (db: BetterSqlite3.Database) =>
  (db.prepare(`SELECT state, kind, count(*) AS n FROM jobs GROUP BY state, kind ORDER BY state, kind`).all() as Array<{ state: string; kind: string; n: number }>).map(
    (r) => `${r.state} ${r.kind} ${r.n}`,
  );

test('hot indexes and job counts: a history written before the migration is counted by it, and kept counted after', (t) => {
  const file = tempDbFile(t);
  mkdirSync(dirname(file), { recursive: true });
  const raw = new BetterSqlite3(file);
  applyPragmas(raw);
  // The version before this migration: whatever number it ends up with, it is the one after these.
  const before = MIGRATIONS.findIndex((m) => m.name === 'hot indexes and job counts');
  assert.ok(before > 0);
  migrate(raw, MIGRATIONS.slice(0, before));
  fillHistory(raw, { jobs: 500, finishedFrom: 1_700_000_000_000, users: 7 });
  raw.close();

  const store = openStore(t, file);
  const counts = (store.db.prepare(`SELECT state, kind, n FROM job_counts WHERE n > 0 ORDER BY state, kind`).all() as Array<{ state: string; kind: string; n: number }>).map(
    (r) => `${r.state} ${r.kind} ${r.n}`,
  );
  assert.deepEqual(counts, groupBy(store.db));
  assert.equal(counts.length, 6, 'three kinds, succeeded and failed');

  // Kept by the triggers from here on: an insert, a state change, a delete.
  const job = store.enqueue(vmStart('web'));
  const c = store.claim('w', 60_000)!;
  assert.equal(c.job.id, job.id);
  store.complete(c.lease, null);
  store.db.prepare(`DELETE FROM job_events WHERE job_id <= 10`).run();
  store.db.prepare(`DELETE FROM approvals WHERE job_id <= 10`).run();
  store.db.prepare(`DELETE FROM jobs WHERE id <= 10`).run();
  const stats = jobStats(store.db).counts.map((x) => `${x.state} ${x.kind} ${x.count}`).sort();
  assert.deepEqual(stats, groupBy(store.db).sort());
});
