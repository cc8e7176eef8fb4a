import type { Database } from '../../src/jobs/db.js';

/**
 * A finished history in bulk: one INSERT … SELECT per table (jobs, job_events, approvals, audit),
 * for the query-plan and retention tests and `npm run bench -- history`. The rows are what the
 * store writes for a job that ran: a third each vm.start / snapshot.create / deploy, one in ten
 * failed, three delivered events (queued, running, the final one), one in ten approved first,
 * one audit row each; requesters spread over `users`.
 */
export interface HistoryOptions {
  jobs: number;
  /** finished_at of the first job, epoch ms; each next one `stepMs` later. */
  finishedFrom: number;
  stepMs?: number;
  users?: number;
  /** Leave the events pending (delivered_at NULL) instead of delivered. */
  undelivered?: boolean;
}

export interface HistoryRange {
  firstId: number;
  lastId: number;
}

export function fillHistory(db: Database, o: HistoryOptions): HistoryRange {
  const before = (db.prepare(`SELECT coalesce(max(id), 0) AS id FROM jobs`).get() as { id: number }).id;
  const p = { count: o.jobs, base: before, t0: o.finishedFrom, step: o.stepMs ?? 1_000, users: o.users ?? 1_000 };
  db.transaction(() => {
    db.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @count)
       INSERT INTO jobs (request_id, kind, payload, state, lock_key, host, dedupe_key, run_at, attempts, max_attempts,
         lease_token, error_code, error_message, result, requester_id, requester_name, notify_adapter, notify_guild_id,
         notify_channel_id, status_message_id, created_at, updated_at, started_at, finished_at)
       SELECT 'req-history-' || (@base + i),
         CASE i % 3 WHEN 0 THEN 'vm.start' WHEN 1 THEN 'snapshot.create' ELSE 'deploy' END,
         json_object('host', 'local', 'vm', 'worker-' || i),
         CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'succeeded' END,
         'host/vm/worker-' || i, 'local', 'vm.start {"host":"local","vm":"worker-' || i || '"}',
         @t0 + i * @step - 5000, 1, 3, 1,
         CASE WHEN i % 10 = 0 THEN 'vm-not-found' END, CASE WHEN i % 10 = 0 THEN 'no VM named worker-' || i END,
         CASE WHEN i % 10 = 0 THEN NULL ELSE json_object('vm', 'worker-' || i, 'state', 'running') END,
         '9876543210' || (i % @users), 'user ' || (i % @users), 'discord', '1187394015836762112', '1187394015836762999',
         '12000000000' || i, @t0 + i * @step - 5000, @t0 + i * @step, @t0 + i * @step - 4000, @t0 + i * @step
       FROM n`,
    ).run(p);
    db.prepare(
      `INSERT INTO job_events (job_id, type, adapter, guild_id, channel_id, kind, state, title, requester_id, requester_name,
         job_attempts, max_attempts, recovered, cancel_requested, run_at, started_at, finished_at, result, error_code,
         error_message, created_at, delivered_at)
       SELECT j.id, t.type, j.notify_adapter, j.notify_guild_id, j.notify_channel_id, j.kind,
         CASE t.type WHEN 'final' THEN j.state ELSE t.type END, 'Start ' || j.kind, j.requester_id, j.requester_name,
         1, 3, 0, 0, j.run_at, j.started_at, CASE t.type WHEN 'final' THEN j.finished_at END, NULL, j.error_code,
         j.error_message, j.finished_at, CASE WHEN @undelivered THEN NULL ELSE j.finished_at + 100 END
       FROM jobs j JOIN (SELECT 'queued' AS type UNION ALL SELECT 'running' UNION ALL SELECT 'final') t
       WHERE j.id > @base ORDER BY j.id`,
    ).run({ base: before, undelivered: o.undelivered ? 1 : 0 });
    db.prepare(
      `INSERT INTO approvals (job_id, state, adapter, channel_id, message_id, requester_id, decided_by, decided_at, expires_at, created_at)
       SELECT id, 'approved', 'discord', notify_channel_id, '13000000000' || id, requester_id, '42', created_at + 1000,
         created_at + 1800000, created_at
       FROM jobs WHERE id > @base AND id % 10 = 0`,
    ).run({ base: before });
    db.prepare(
      `INSERT INTO audit (at, user_id, user_name, command, options, outcome, code, job_id)
       SELECT created_at, requester_id, requester_name, 'vm start', json_object('vm', 'worker-' || id), 'accepted', NULL, id
       FROM jobs WHERE id > @base`,
    ).run({ base: before });
  }).immediate();
  return { firstId: before + 1, lastId: before + o.jobs };
}
