import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { DUE_APPROVALS_SQL, PENDING_APPROVALS_SQL, PENDING_OF_BATCH_SQL } from '../../src/jobs/approvals.js';
import { BATCH_SQL } from '../../src/jobs/batch.js';
import { WAITING_OF_BATCH_SQL } from '../../src/jobs/cancel.js';
import { CLAIM_SQL } from '../../src/jobs/claim.js';
import { LIST_KEYS_SQL } from '../../src/jobs/key-list.js';
import { HOST_JOBS_SQL } from '../../src/jobs/host-jobs.js';
import { HOST_STATES_SQL } from '../../src/jobs/host-states.js';
import { COUNT_SQL, LIST_SQL } from '../../src/jobs/list.js';
import { PENDING_BY_ADAPTER_SQL, PENDING_OF_JOB_SQL, PENDING_SQL } from '../../src/jobs/outbox.js';
import { PRUNE_SQL } from '../../src/jobs/prune.js';
import { EXPIRED_SQL } from '../../src/jobs/reap.js';
import { DUE_SCHEDULES_SQL } from '../../src/jobs/schedule-due.js';
import { LIST_SCHEDULES_SQL } from '../../src/jobs/schedule-list.js';
import { MADE_SQL } from '../../src/jobs/schedule-made.js';
import { OPEN_RUNS_SQL } from '../../src/jobs/schedule-runs.js';
import { STATS_SQL } from '../../src/jobs/stats.js';
import type { SqliteJobStore } from '../../src/jobs/store.js';
import { fillHistory } from '../helpers/history.js';
import { alice, freshStore, vmStart } from './helpers.js';

/**
 * Every query the bot runs on a timer or per command (and the retention prune's), with the plan
 * SQLite picks for it. None
 * may walk a table whose size is the history (`SCAN jobs`, `SCAN job_events`, `SCAN audit`,
 * `SCAN approvals`) or sort it: each reads an index bounded by the live jobs (queued, running,
 * pending), by one job or user, or by a LIMIT. The one bounded walk allowed is `/job list` with
 * no filter: the primary key from the top, stopping after `limit` rows.
 *
 * Pinned twice: on a fresh database, and after ANALYZE on a skewed history (2,000 finished jobs
 * of one user), where statistics could tempt the planner to another index.
 */
interface Query {
  name: string;
  sql: string;
  params: unknown[];
  /** The index each must use (a regular expression over the plan). */
  uses: RegExp;
  /** `SCAN jobs` allowed (bounded by LIMIT). */
  limitedScan?: boolean;
}

const NOW = 1_700_000_000_000;

const QUERIES: Query[] = [
  { name: 'worker: claim', sql: CLAIM_SQL, params: [{ owner: 'w', leaseMs: 30_000, now: NOW, hosts: '["local"]', perHost: 2 }], uses: /SCAN j USING INDEX jobs_claimable/ },
  { name: 'worker: due scan', sql: LIST_SQL.state, params: [{ state: 'queued', limit: 1000, offset: 0 }], uses: /SEARCH jobs USING INDEX jobs_state \(state=\?\)/ },
  { name: 'worker: reaper', sql: EXPIRED_SQL, params: [NOW], uses: /SEARCH jobs USING INDEX jobs_lease \(lease_expires_at<\?\)/ },
  { name: 'approval sweep', sql: DUE_APPROVALS_SQL, params: [NOW], uses: /SEARCH approvals USING INDEX approvals_pending \(expires_at<\?\)/ },
  { name: 'approvals pending (start-up)', sql: PENDING_APPROVALS_SQL, params: [], uses: /SCAN approvals USING INDEX approvals_pending/ },
  { name: 'notifier: pending per adapter', sql: PENDING_SQL, params: ['discord', 0, 500], uses: /SEARCH e USING INDEX job_events_pending \(adapter=\? AND id>\?\)/ },
  { name: 'notifier: pending of a job', sql: PENDING_OF_JOB_SQL, params: [1, 0], uses: /SEARCH e USING INDEX job_events_job \(job_id=\? AND id>\?\)/ },
  { name: 'notifier: pending count (start-up)', sql: PENDING_BY_ADAPTER_SQL, params: [], uses: /SCAN job_events USING (COVERING )?INDEX job_events_pending/ },
  { name: '/job list', sql: LIST_SQL.all, params: [{ limit: 50, offset: 20 }], uses: /^SCAN jobs$/, limitedScan: true },
  { name: '/job list state:', sql: LIST_SQL.state, params: [{ state: 'succeeded', limit: 50, offset: 20 }], uses: /SEARCH jobs USING INDEX jobs_state \(state=\?\)/ },
  { name: '/job list mine:', sql: LIST_SQL.requester, params: [{ requesterId: alice.id, limit: 50, offset: 20 }], uses: /SEARCH jobs USING INDEX jobs_requester \(requester_id=\?\)/ },
  { name: '/job list mine: state:', sql: LIST_SQL.requesterState, params: [{ requesterId: alice.id, state: 'queued', limit: 50, offset: 20 }], uses: /SEARCH jobs USING INDEX jobs_requester_state \(requester_id=\? AND state=\?\)/ },
  { name: '/job list: its count (capped at 10,001 rows)', sql: COUNT_SQL.all, params: [], uses: /SCAN jobs/, limitedScan: true },
  { name: '/job list state: its count', sql: COUNT_SQL.state, params: [{ state: 'succeeded' }], uses: /SEARCH jobs USING COVERING INDEX jobs_state \(state=\?\)/ },
  { name: '/job list mine: its count', sql: COUNT_SQL.requester, params: [{ requesterId: alice.id }], uses: /SEARCH jobs USING COVERING INDEX jobs_requester(_state)? \(requester_id=\?\)/ },
  { name: '/job list mine: state: its count', sql: COUNT_SQL.requesterState, params: [{ requesterId: alice.id, state: 'queued' }], uses: /SEARCH jobs USING COVERING INDEX jobs_requester_state \(requester_id=\? AND state=\?\)/ },
  { name: '/job status', sql: 'SELECT * FROM jobs WHERE id = ?', params: [1], uses: /SEARCH jobs USING INTEGER PRIMARY KEY \(rowid=\?\)/ },
  { name: '/job status: approval', sql: 'SELECT * FROM approvals WHERE job_id = ?', params: [1], uses: /SEARCH approvals USING INTEGER PRIMARY KEY \(rowid=\?\)/ },
  { name: '/job status: its batch', sql: BATCH_SQL, params: [1], uses: /SEARCH jobs USING INDEX jobs_batch \(batch_id=\?\)/ },
  { name: 'approve / reject: the rest of the batch', sql: PENDING_OF_BATCH_SQL, params: [{ jobId: 1 }], uses: /SEARCH j USING (COVERING )?INDEX jobs_batch \(batch_id=\?\)/ },
  { name: '/job cancel: the rest of a waiting batch', sql: WAITING_OF_BATCH_SQL, params: [{ batchId: 1, jobId: 1 }], uses: /SEARCH jobs USING (COVERING )?INDEX jobs_batch \(batch_id=\?\)/ },
  { name: '/key list, /deploy: a person’s keys', sql: LIST_KEYS_SQL, params: [alice.id], uses: /SEARCH ssh_keys USING INDEX ssh_keys_user_name \(user_id=\?\)/ },
  { name: 'scheduler: due schedules', sql: DUE_SCHEDULES_SQL, params: [NOW, 20], uses: /SEARCH schedules USING INDEX schedules_due \(next_run_at<\?\)/ },
  { name: 'scheduler: open runs', sql: OPEN_RUNS_SQL, params: [50], uses: /^SCAN schedule_runs$/ },
  { name: 'scheduler: what a schedule made on a VM', sql: MADE_SQL, params: [1, 'local', 'u'], uses: /SEARCH schedule_snapshots USING (COVERING )?INDEX schedule_snapshots_age \(schedule_id=\? AND host=\? AND vm_uuid=\?\)/ },
  { name: '/schedule list', sql: LIST_SCHEDULES_SQL, params: [], uses: /^SCAN schedules$/ },
  { name: '/host list, metrics: queued jobs per host', sql: HOST_JOBS_SQL.queued, params: [], uses: /SCAN jobs USING INDEX jobs_claimable/ },
  { name: '/host list, metrics: running jobs per host', sql: HOST_JOBS_SQL.running, params: [], uses: /SCAN jobs USING (COVERING )?INDEX jobs_host_running/ },
  { name: '/host list, placement: drained hosts', sql: HOST_STATES_SQL, params: [], uses: /SCAN host_state/ },
  { name: 'metrics: counts', sql: STATS_SQL.counts, params: [], uses: /SCAN job_counts/ },
  { name: 'metrics: queue', sql: STATS_SQL.queue, params: [NOW], uses: /SCAN jobs USING INDEX jobs_claimable/ },
  { name: 'metrics: running', sql: STATS_SQL.running, params: [], uses: /SCAN jobs USING (COVERING )?INDEX jobs_lease/ },
  { name: 'metrics: approvals pending', sql: STATS_SQL.approvals, params: [], uses: /SCAN approvals USING (COVERING )?INDEX approvals_pending/ },
  { name: 'metrics: recent', sql: STATS_SQL.recent, params: [50], uses: /(SCAN|SEARCH) jobs USING INDEX jobs_finished/ },
  { name: 'prune: candidates', sql: PRUNE_SQL.candidates, params: [{ before: NOW, afterAt: 0, afterId: 0, limit: 250 }], uses: /SEARCH jobs USING INDEX jobs_finished \(finished_at>\? AND finished_at<\?\)/ },
  { name: 'prune: undelivered', sql: PRUNE_SQL.undelivered, params: [1], uses: /SEARCH job_events USING INDEX job_events_job \(job_id=\?\)/ },
  { name: 'prune: events', sql: PRUNE_SQL.events, params: [1, 250], uses: /SEARCH job_events USING COVERING INDEX job_events_job \(job_id=\?\)/ },
  { name: 'prune: job', sql: PRUNE_SQL.job, params: [1], uses: /SEARCH jobs USING INTEGER PRIMARY KEY \(rowid=\?\)/ },
  { name: 'prune: audit', sql: PRUNE_SQL.audit, params: [NOW, 250], uses: /SEARCH audit USING COVERING INDEX audit_at \(at<\?\)/ },
];

/** Tables whose size is the history: walking one (not one of its partial indexes) is the bug. */
const HISTORY_WALK = /\bSCAN (jobs|j|o|h|job_events|e|audit|approvals)\b(?! USING (COVERING )?INDEX (jobs_claimable|jobs_lease|jobs_host_running|approvals_pending|job_events_pending|jobs_finished))/;

function plan(store: SqliteJobStore, q: Query): string {
  return (store.db.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...q.params) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
}

function checkAll(t: TestContext, store: SqliteJobStore): void {
  for (const q of QUERIES) {
    const p = plan(store, q);
    t.diagnostic(`${q.name}: ${p}`);
    assert.match(p, q.uses, `${q.name}: ${p}`);
    if (!q.limitedScan) assert.doesNotMatch(p, HISTORY_WALK, `${q.name} walks the history: ${p}`);
    // A sort is allowed only over what an index already bounded to the live jobs (claim, reaper, sweep).
    if (/TEMP B-TREE/.test(p)) assert.match(q.name, /claim|reaper|approval/, `${q.name} sorts: ${p}`);
  }
}

test('every hot query reads an index, on a fresh database', (t) => {
  checkAll(t, freshStore(t));
});

test('every hot query reads an index after ANALYZE on a skewed history', (t) => {
  const store = freshStore(t);
  fillHistory(store.db, { jobs: 2_000, finishedFrom: NOW - 86_400_000, users: 1 });
  for (let i = 0; i < 5; i++) store.enqueue(vmStart(`live-${i}`));
  store.db.exec('ANALYZE');
  checkAll(t, store);
});

test('the queries run as pinned: each answers what the old one did', (t) => {
  const store = freshStore(t);
  fillHistory(store.db, { jobs: 300, finishedFrom: NOW - 86_400_000, users: 3 });
  const queued = [0, 1, 2].map((i) => store.enqueue(vmStart(`live-${i}`)).id);
  const all = store.db.prepare(`SELECT id, state, requester_id FROM jobs ORDER BY id DESC`).all() as Array<{ id: number; state: string; requester_id: string }>;
  const expect = (f: (r: (typeof all)[number]) => boolean, limit: number) => all.filter(f).slice(0, limit).map((r) => r.id);
  const ids = (jobs: Array<{ id: number }>) => jobs.map((j) => j.id);
  assert.deepEqual(ids(store.list()), expect(() => true, 50));
  assert.deepEqual(ids(store.list({ state: 'queued' })), [...queued].reverse());
  assert.deepEqual(ids(store.list({ state: 'failed', limit: 7 })), expect((r) => r.state === 'failed', 7));
  const user = all[10]!.requester_id;
  assert.deepEqual(ids(store.list({ requesterId: user })), expect((r) => r.requester_id === user, 50));
  assert.deepEqual(ids(store.list({ requesterId: user, state: 'succeeded', limit: 5 })), expect((r) => r.requester_id === user && r.state === 'succeeded', 5));
  assert.deepEqual(ids(store.list({ requesterId: alice.id, state: 'queued' })), [...queued].reverse());
});
