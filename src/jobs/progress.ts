import { immediate, type StoreContext } from './context.js';
import { HELD_BY_LEASE, leaseLost, leaseParams } from './lease.js';
import { rowToJob, type JobRow } from './rows.js';
import type { Job, JobProgress, Lease } from './types.js';

const PROGRESS = `
UPDATE jobs SET progress = @progress, updated_at = @now
WHERE ${HELD_BY_LEASE}
RETURNING *`;

/** Stores the latest step and writes a `progress` event. Coalescing is the caller's (worker's) job. */
export function progressOp(ctx: StoreContext): (lease: Lease, p: JobProgress) => Job {
  const progress = ctx.db.prepare(PROGRESS);
  return immediate(ctx.db, (lease: Lease, p: JobProgress) => {
    const value = p.fraction === undefined ? { step: p.step } : { step: p.step, fraction: p.fraction };
    const row = progress.get({ ...leaseParams(lease), progress: JSON.stringify(value), now: ctx.now() }) as JobRow | undefined;
    if (!row) throw leaseLost(ctx.db, lease);
    const job = rowToJob(row);
    ctx.event('progress', job);
    return job;
  });
}
