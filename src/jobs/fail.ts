import { retryDelay } from './backoff.js';
import { immediate, type StoreContext } from './context.js';
import { SELECT_HELD, leaseLost, leaseParams } from './lease.js';
import { errorCode, rowToJob, type JobRow } from './rows.js';
import type { Job, Lease } from './types.js';

const RETRY = `
UPDATE jobs
SET state = 'queued', run_at = @runAt, error_code = @code, error_message = @message,
    lease_expires_at = NULL, updated_at = @now
WHERE id = @jobId
RETURNING *`;

const FAIL = `
UPDATE jobs
SET state = 'failed', error_code = @code, error_message = @message,
    lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE id = @jobId
RETURNING *`;

/**
 * The lease holder reports a failure. With `retry` (the worker's call: a transient error code)
 * and attempts left, the job goes back to `queued`, due after a capped exponential backoff with
 * jitter (event `retrying`; the error stays on the job so the notification can say why).
 * Otherwise — permanent error, no attempts left, or a cancel was requested — it is `failed`
 * (event `failed`). Unknown error codes are stored as `internal`.
 */
export function failOp(ctx: StoreContext): (lease: Lease, error: { code: string; message: string }, opts: { retry: boolean }) => Job {
  const held = ctx.db.prepare(SELECT_HELD);
  const retry = ctx.db.prepare(RETRY);
  const fail = ctx.db.prepare(FAIL);

  return immediate(ctx.db, (lease: Lease, error: { code: string; message: string }, opts: { retry: boolean }) => {
    const row = held.get(leaseParams(lease)) as JobRow | undefined;
    if (!row) throw leaseLost(ctx.db, lease);
    const now = ctx.now();
    const params = { jobId: row.id, code: errorCode(error.code), message: error.message, now };
    if (opts.retry && row.attempts < row.max_attempts && row.cancel_requested === 0) {
      const runAt = now + retryDelay(row.attempts, ctx.backoff, ctx.random);
      const job = rowToJob(retry.get({ ...params, runAt }) as JobRow);
      ctx.event('retrying', job);
      return job;
    }
    const job = rowToJob(fail.get(params) as JobRow);
    ctx.event('failed', job);
    return job;
  });
}
