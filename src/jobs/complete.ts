import { immediate, type StoreContext } from './context.js';
import { leaseLost, leaseParams } from './lease.js';
import { rowToJob, toJson, type JobRow } from './rows.js';
import type { Job, Lease } from './types.js';

/**
 * Who may write a job's result: the lease holder (owner and fencing token match) while the job
 * runs — or after the reaper took it back, as long as nobody claimed it since (the next claim
 * bumps the token). The work is done: a worker that could not write that in time (the database
 * was locked past its lease) must still be able to say so, or the job would run a second time.
 * Once another worker has re-claimed it, the token differs and the write is refused
 * (`lease-lost`): the new holder's run is not overwritten.
 */
const COMPLETABLE = `
id = @jobId AND lease_owner = @owner AND lease_token = @token
AND (state = 'running' OR (state = 'queued' AND recovered = 1 AND error_code = 'lease-lost'))`;

/** Exported so the bench's bare baseline runs the very same statement. */
export const COMPLETE_SQL = `
UPDATE jobs
SET state = 'succeeded', result = @result, error_code = NULL, error_message = NULL,
    lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE ${COMPLETABLE}
RETURNING *`;

/**
 * The lease holder finishes the job: `succeeded` with its result (event `succeeded`). `along`
 * runs inside the same transaction once the job is known to be the caller's to finish (the
 * job's inventory rows, src/inventory): if it throws, nothing of the completion is written, and
 * if the completion is refused, it never runs — the result and what rides along never part.
 */
export function completeOp(ctx: StoreContext): (lease: Lease, result: unknown, along?: (now: number) => void) => Job {
  const complete = ctx.db.prepare(COMPLETE_SQL);
  return immediate(ctx.db, (lease: Lease, result: unknown, along?: (now: number) => void) => {
    const now = ctx.now();
    const row = complete.get({ ...leaseParams(lease), result: toJson(result), now }) as JobRow | undefined;
    if (!row) throw leaseLost(ctx.db, lease);
    along?.(now);
    const job = rowToJob(row);
    ctx.event('succeeded', job);
    return job;
  });
}
