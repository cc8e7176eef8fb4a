import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PRUNE_STEP_LIMIT, type PruneCursor, type PruneStepResult } from '../../src/jobs/prune.js';
import { jobStats } from '../../src/jobs/stats.js';
import type { SqliteJobStore } from '../../src/jobs/store.js';
import { fillHistory } from '../helpers/history.js';
import { Clock, freshStore, snapshotRevert, vmStart } from './helpers.js';

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;

const count = (store: SqliteJobStore, sql: string, ...args: unknown[]) => (store.db.prepare(sql).get(...args) as { n: number }).n;
const groupBy = (store: SqliteJobStore) =>
  (store.db.prepare(`SELECT state, kind, count(*) AS n FROM jobs GROUP BY state, kind`).all() as Array<{ state: string; kind: string; n: number }>)
    .map((r) => `${r.state} ${r.kind} ${r.n}`)
    .sort();

/** Steps until done, checking each one's size; returns them. */
function pruneAll(store: SqliteJobStore, finishedBefore: number | null, auditBefore: number | null, limit?: number): PruneStepResult[] {
  const steps: PruneStepResult[] = [];
  let after: PruneCursor | undefined;
  for (let i = 0; i < 10_000; i++) {
    const r = store.pruneStep({ finishedBefore, auditBefore, ...(limit ? { limit } : {}), ...(after ? { after } : {}) });
    const rows = r.jobs + r.events + r.approvals + r.audit;
    assert.ok(rows <= (limit ?? PRUNE_STEP_LIMIT), `a step deleted ${rows} rows`);
    steps.push(r);
    after = r.after;
    if (r.done) return steps;
  }
  assert.fail('the prune never ended');
}

test('retention: old finished jobs go with their events and approvals, in steps of at most 1,000 rows; live, awaiting and undelivered ones stay', (t) => {
  const clock = new Clock(NOW - 200 * DAY);
  const store = freshStore(t, { now: clock.now });
  // An old finished job whose last event was never delivered (its adapter is not running now).
  const undeliveredJob = store.enqueue(vmStart('undelivered-vm'));
  const cu = store.claim('w', DAY)!;
  assert.equal(cu.job.id, undeliveredJob.id);
  store.complete(cu.lease, null);
  // Live jobs made long ago: running, queued, awaiting approval (none has finished_at).
  const running = store.enqueue(vmStart('running-vm'));
  const queued = store.enqueue(vmStart('queued-vm'));
  const awaiting = store.enqueue(snapshotRevert('db', 'before'));
  assert.equal(awaiting.state, 'awaiting_approval');
  assert.equal(store.claim('w', 365 * DAY)!.job.id, running.id);

  // 3,000 finished jobs 120 … 100 days old, 300 of them with an approval; audit rows as old.
  fillHistory(store.db, { jobs: 3_000, finishedFrom: NOW - 120 * DAY, stepMs: Math.floor((20 * DAY) / 3_000) });
  // 400 with the very same finish time (more than one step takes): the step cursor must not skip one.
  store.db.prepare(`UPDATE jobs SET finished_at = ? WHERE id IN (SELECT id FROM jobs WHERE state = 'succeeded' ORDER BY id LIMIT 400 OFFSET 1000)`).run(NOW - 110 * DAY);
  // 100 recent ones (5 … 0 days old): within the 90 days.
  const recent = fillHistory(store.db, { jobs: 100, finishedFrom: NOW - 5 * DAY, stepMs: Math.floor((5 * DAY) / 100) });
  // 20 old ones whose events are still pending.
  const pending = fillHistory(store.db, { jobs: 20, finishedFrom: NOW - 150 * DAY, undelivered: true });
  store.db.prepare(`UPDATE job_events SET delivered_at = ? WHERE job_id IN (?, ?, ?, ?)`).run(NOW, queued.id, running.id, awaiting.id, undeliveredJob.id);
  store.db.prepare(`UPDATE job_events SET delivered_at = NULL WHERE id = (SELECT max(id) FROM job_events WHERE job_id = ?)`).run(undeliveredJob.id);
  clock.t = NOW;
  const auditBefore = count(store, `SELECT count(*) AS n FROM audit`);

  const steps = pruneAll(store, NOW - 90 * DAY, NOW - 365 * DAY);
  assert.ok(steps.length >= 4, `${steps.length} steps: 3,000 jobs with 3 events each cannot go in fewer than 13,000 / 1,000`);
  const total = (k: 'jobs' | 'events' | 'approvals' | 'audit' | 'kept') => steps.reduce((a, s) => a + s[k], 0);
  assert.equal(total('jobs'), 3_000);
  assert.equal(total('events'), 9_000);
  assert.equal(total('approvals'), 300);
  assert.equal(total('audit'), 0, 'audit rows are kept a year');
  assert.equal(store.db.pragma('synchronous', { simple: true }), 2, 'the connection is back to FULL after the prune commits');

  const left = (store.db.prepare(`SELECT id FROM jobs ORDER BY id`).all() as Array<{ id: number }>).map((r) => r.id);
  const range = (r: { firstId: number; lastId: number }) => Array.from({ length: r.lastId - r.firstId + 1 }, (_, i) => r.firstId + i);
  assert.deepEqual(left, [undeliveredJob.id, running.id, queued.id, awaiting.id, ...range(recent), ...range(pending)]);
  assert.equal(store.get(awaiting.id)!.state, 'awaiting_approval');
  assert.equal(store.approvals.get(awaiting.id)!.state, 'pending');
  assert.equal(count(store, `SELECT count(*) AS n FROM job_events WHERE job_id = ?`, undeliveredJob.id), 3, 'every event of a kept job stays');
  assert.equal(count(store, `SELECT count(*) AS n FROM job_events WHERE job_id NOT IN (SELECT id FROM jobs)`), 0);
  assert.equal(count(store, `SELECT count(*) AS n FROM approvals WHERE job_id NOT IN (SELECT id FROM jobs)`), 0);
  assert.equal(count(store, `SELECT count(*) AS n FROM audit`), auditBefore);
  // The metrics' counts follow the deletions.
  assert.deepEqual(jobStats(store.db).counts.map((c) => `${c.state} ${c.kind} ${c.count}`).sort(), groupBy(store));

  // Once delivered, the kept one goes at the next prune; audit rows older than the cutoff go too.
  store.outbox.pending('shell', 10).forEach((e) => store.outbox.markDelivered(e.id));
  store.db.prepare(`UPDATE job_events SET delivered_at = ? WHERE job_id BETWEEN ? AND ?`).run(NOW, pending.firstId, pending.lastId);
  const again = pruneAll(store, NOW - 90 * DAY, NOW - 100 * DAY, 100);
  assert.equal(again.reduce((a, s) => a + s.jobs, 0), 21);
  assert.equal(count(store, `SELECT count(*) AS n FROM audit WHERE at < ?`, NOW - 100 * DAY), 0);
  assert.ok(count(store, `SELECT count(*) AS n FROM audit`) > 0);
  assert.ok(again.length > 3, 'steps of at most 100 rows');
});

test('retention off keeps everything; a job with more events than a step finishes in the next one', (t) => {
  const store = freshStore(t);
  fillHistory(store.db, { jobs: 50, finishedFrom: NOW - 400 * DAY });
  const r = store.pruneStep({ finishedBefore: null, auditBefore: null });
  assert.deepEqual([r.jobs, r.events, r.approvals, r.audit, r.done], [0, 0, 0, 0, true]);
  assert.equal(count(store, `SELECT count(*) AS n FROM jobs`), 50);

  // One job with 25 events, steps of 10 rows: its events go over three steps, then the job.
  const job = store.db.prepare(`SELECT id FROM jobs ORDER BY finished_at, id LIMIT 1`).get() as { id: number };
  store.db.prepare(
    `INSERT INTO job_events (job_id, type, adapter, guild_id, channel_id, kind, state, title, requester_id, requester_name,
       job_attempts, max_attempts, recovered, cancel_requested, run_at, created_at, delivered_at)
     SELECT job_id, 'progress', adapter, guild_id, channel_id, kind, 'running', title, requester_id, requester_name,
       1, 3, 0, 0, run_at, created_at, delivered_at FROM job_events WHERE job_id = ? LIMIT 1`,
  ).run(job.id);
  for (let i = 0; i < 21; i++) store.db.prepare(`INSERT INTO job_events (job_id, type, adapter, channel_id, kind, state, title, requester_id, requester_name, job_attempts, max_attempts, recovered, cancel_requested, run_at, created_at, delivered_at) SELECT job_id, type, adapter, channel_id, kind, state, title, requester_id, requester_name, 1, 3, 0, 0, run_at, created_at, delivered_at FROM job_events WHERE job_id = ? LIMIT 1`).run(job.id);
  assert.equal(count(store, `SELECT count(*) AS n FROM job_events WHERE job_id = ?`, job.id), 25);
  const steps = pruneAll(store, NOW, null, 10);
  assert.equal(steps[0]!.jobs, 0);
  assert.equal(steps[0]!.events, 8);
  assert.equal(count(store, `SELECT count(*) AS n FROM jobs`), 0);
  assert.equal(count(store, `SELECT count(*) AS n FROM job_events`), 0);
});
