import { immediate, type StoreContext } from './context.js';
import { rowToJob, type JobRow } from './rows.js';
import type { Job } from './types.js';

// On `jobs_lease` (running jobs only): with a bare `ORDER BY id` the planner walked the primary
// key, i.e. the whole history (196 ms every 15 s at 1 M jobs). The sort is of expired leases only.
export const EXPIRED_SQL = `SELECT * FROM jobs INDEXED BY jobs_lease WHERE state = 'running' AND lease_expires_at < ? ORDER BY id`;

const REQUEUE = `
UPDATE jobs
SET state = 'queued', recovered = 1, run_at = @now, error_code = 'lease-lost',
    error_message = 'the worker running it stopped answering; it will run again',
    lease_expires_at = NULL, updated_at = @now
WHERE id = @jobId
RETURNING *`;

const FAIL = `
UPDATE jobs
SET state = 'failed', error_code = 'lease-lost',
    error_message = 'the worker running it stopped answering and no attempts are left',
    lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE id = @jobId
RETURNING *`;

const CANCEL = `
UPDATE jobs
SET state = 'cancelled', error_code = 'aborted',
    error_message = 'cancelled (the worker running it stopped answering)',
    lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE id = @jobId
RETURNING *`;

/**
 * Takes back running jobs whose lease expired before `now` (their worker crashed or hung).
 * With attempts left: `queued`, due at once, `recovered` set so the executor checks real state
 * first (event `retrying`). No attempts left: `failed` (event `failed`). A cancel was requested:
 * `cancelled` (event `cancelled`). The lease token is left as it was; the next claim bumps it.
 */
export function reapOp(ctx: StoreContext): (now?: number) => Job[] {
  const expired = ctx.db.prepare<[number]>(EXPIRED_SQL);
  const requeue = ctx.db.prepare(REQUEUE);
  const fail = ctx.db.prepare(FAIL);
  const cancel = ctx.db.prepare(CANCEL);

  return immediate(ctx.db, (at?: number) => {
    const now = at ?? ctx.now();
    return (expired.all(now) as JobRow[]).map((row) => {
      const params = { jobId: row.id, now };
      const [stmt, type] =
        row.cancel_requested === 1
          ? ([cancel, 'cancelled'] as const)
          : row.attempts >= row.max_attempts
            ? ([fail, 'failed'] as const)
            : ([requeue, 'retrying'] as const);
      const job = rowToJob(stmt.get(params) as JobRow);
      ctx.event(type, job);
      return job;
    });
  });
}
