import { KvmopsError } from '../domain/errors.js';
import { FINAL_STATES, type JobState } from '../domain/job-states.js';
import { immediate, type StoreContext } from './context.js';
import { HELD_BY_LEASE, leaseLost, leaseParams } from './lease.js';
import { rowToJob, type JobRow } from './rows.js';
import type { CancelOutcome, Job, Lease, Requester } from './types.js';

const SELECT_JOB = `SELECT * FROM jobs WHERE id = ?`;

const CANCEL_WAITING = `
UPDATE jobs
SET state = 'cancelled', error_code = 'aborted', error_message = @message,
    finished_at = @now, updated_at = @now
WHERE id = @jobId
RETURNING *`;

/** A pending approval of a job cancelled before anyone decided: `cancelled`, by the canceller. */
const CANCEL_APPROVAL = `
UPDATE approvals SET state = 'cancelled', decided_by = @by, decided_at = @now
WHERE job_id = @jobId AND state = 'pending'`;

/**
 * The rest of a batch still awaiting its one approval (jobs_batch): the request is one thing, so
 * withdrawing any job of it withdraws them all, as a rejection would (approvals.ts).
 */
export const WAITING_OF_BATCH_SQL = `
SELECT id FROM jobs INDEXED BY jobs_batch
WHERE batch_id = @batchId AND id <> @jobId AND state = 'awaiting_approval'
ORDER BY id`;

const REQUEST_STOP = `
UPDATE jobs SET cancel_requested = 1, updated_at = @now
WHERE id = @jobId
RETURNING *`;

const CANCEL_RUNNING = `
UPDATE jobs
SET state = 'cancelled', error_code = 'aborted', error_message = @message,
    lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE ${HELD_BY_LEASE}
RETURNING *`;

/**
 * `/job cancel`. Queued or awaiting approval: `cancelled` at once (event `cancelled`; a pending
 * approval becomes `cancelled`). Running: `cancel_requested` is set (event `cancel_requested`,
 * once; asking again changes nothing) and the worker learns it from its next heartbeat.
 * Finished: `not-cancellable` (details.state). Whether `by` may cancel is the caller's check.
 * A job of a batch awaiting its one approval takes the rest of the batch with it (`others`).
 */
export function requestCancelOp(ctx: StoreContext): (id: number, by: Requester) => CancelOutcome & { changed: boolean; others: Job[] } {
  const select = ctx.db.prepare<[number]>(SELECT_JOB);
  const cancelWaiting = ctx.db.prepare(CANCEL_WAITING);
  const cancelApproval = ctx.db.prepare(CANCEL_APPROVAL);
  const requestStop = ctx.db.prepare(REQUEST_STOP);
  const waitingOfBatch = ctx.db.prepare<{ batchId: number; jobId: number }, { id: number }>(WAITING_OF_BATCH_SQL);

  return immediate(ctx.db, (id: number, by: Requester) => {
    const row = select.get(id) as JobRow | undefined;
    if (!row) throw new KvmopsError('job-not-found', `no job ${id}`, { details: { jobId: id } });
    const state = row.state as JobState;
    const now = ctx.now();
    if (FINAL_STATES.has(state)) {
      throw new KvmopsError('not-cancellable', `job ${id} is already ${state}`, { details: { jobId: id, state } });
    }
    if (state === 'running') {
      if (row.cancel_requested === 1) return { job: rowToJob(row), effect: 'stop-requested', changed: false, others: [] };
      const job = rowToJob(requestStop.get({ jobId: id, now }) as JobRow);
      ctx.event('cancel_requested', job);
      return { job, effect: 'stop-requested', changed: true, others: [] };
    }
    const cancelOne = (jobId: number): Job => {
      const job = rowToJob(cancelWaiting.get({ jobId, now, message: `cancelled by ${by.name}` }) as JobRow);
      cancelApproval.run({ jobId, by: by.id, now });
      ctx.event('cancelled', job);
      return job;
    };
    const batchId = row.batch_id ?? null;
    const rest = state === 'awaiting_approval' && batchId !== null ? waitingOfBatch.all({ batchId, jobId: id }) : [];
    const job = cancelOne(id);
    return { job, effect: 'cancelled', changed: true, others: rest.map((r) => cancelOne(r.id)) };
  });
}

/** The lease holder reports that the job stopped because it was cancelled (event `cancelled`). */
export function cancelRunningOp(ctx: StoreContext): (lease: Lease, message: string) => Job {
  const cancelRunning = ctx.db.prepare(CANCEL_RUNNING);
  return immediate(ctx.db, (lease: Lease, message: string) => {
    const row = cancelRunning.get({ ...leaseParams(lease), message, now: ctx.now() }) as JobRow | undefined;
    if (!row) throw leaseLost(ctx.db, lease);
    const job = rowToJob(row);
    ctx.event('cancelled', job);
    return job;
  });
}
