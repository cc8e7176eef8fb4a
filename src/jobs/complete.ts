import { immediate, type OpContext } from './context.js';
import { HELD_BY_LEASE, leaseLost, leaseParams } from './lease.js';
import { rowToJob, toJson, type JobRow } from './rows.js';
import type { Job, Lease } from './types.js';

/** Exported so the bench's bare baseline runs the very same statement. */
export const COMPLETE_SQL = `
UPDATE jobs
SET state = 'succeeded', result = @result, error_code = NULL, error_message = NULL,
    lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE ${HELD_BY_LEASE}
RETURNING *`;

/** The lease holder finishes the job: `succeeded` with its result (event `succeeded`). */
export function completeOp(ctx: OpContext): (lease: Lease, result: unknown) => Job {
  const complete = ctx.db.prepare(COMPLETE_SQL);
  return immediate(ctx.db, (lease: Lease, result: unknown) => {
    const row = complete.get({ ...leaseParams(lease), result: toJson(result), now: ctx.now() }) as JobRow | undefined;
    if (!row) throw leaseLost(ctx.db, lease);
    const job = rowToJob(row);
    ctx.event('succeeded', job);
    return job;
  });
}
