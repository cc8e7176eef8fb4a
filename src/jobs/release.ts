import { immediate, type StoreContext } from './context.js';
import { SELECT_HELD, leaseLost, leaseParams } from './lease.js';
import { rowToJob, type JobRow } from './rows.js';
import type { Job, Lease } from './types.js';

/**
 * Back to the queue, the attempt not counted, due at once. `recovered` is set: the executor
 * was interrupted and may have left work half-done, so the next run must check real state.
 */
const RELEASE = `
UPDATE jobs
SET state = 'queued', attempts = attempts - 1, recovered = 1, run_at = @now,
    lease_expires_at = NULL, updated_at = @now
WHERE id = @jobId
RETURNING *`;

const CANCEL = `
UPDATE jobs
SET state = 'cancelled', error_code = 'aborted', error_message = 'cancelled (stopped before it finished)',
    lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE id = @jobId
RETURNING *`;

/**
 * The lease holder gives a job back without it counting as failed (graceful shutdown): event
 * `queued`. A job whose cancel was requested is not given back but `cancelled` (event `cancelled`).
 */
export function releaseOp(ctx: StoreContext): (lease: Lease) => Job {
  const held = ctx.db.prepare(SELECT_HELD);
  const release = ctx.db.prepare(RELEASE);
  const cancel = ctx.db.prepare(CANCEL);

  return immediate(ctx.db, (lease: Lease) => {
    const row = held.get(leaseParams(lease)) as JobRow | undefined;
    if (!row) throw leaseLost(ctx.db, lease);
    const params = { jobId: row.id, now: ctx.now() };
    if (row.cancel_requested === 1) {
      const job = rowToJob(cancel.get(params) as JobRow);
      ctx.event('cancelled', job);
      return job;
    }
    const job = rowToJob(release.get(params) as JobRow);
    ctx.event('queued', job);
    return job;
  });
}
