import { isKvmopsError } from '../domain/errors.js';
import { immediate, type StoreContext } from './context.js';
import { validatePayload } from './enqueue.js';
import { rowToJob, type JobRow } from './rows.js';
import type { Job, Lease } from './types.js';

/**
 * The claim: ONE statement picks and takes the job, so two claimers (threads or processes) can
 * never take the same one — the write lock covers the sub-select and the update together
 * (docs/architecture.md: 0 double claims measured, against thousands for SELECT-then-UPDATE).
 *
 * Claimable: queued, due (run_at ≤ now), and none of its resources (job_resources, declared by
 * its kind: src/kinds/) is held in a conflicting mode — exclusive against anything,
 * shared against exclusive — by a running job or by an *older* queued job (even one waiting out
 * its retry backoff: per resource, order is accept order); its host among @hosts (when given)
 * and below @perHost running jobs (when given). Among those: highest priority, then oldest.
 * Jobs awaiting approval do not block others: they take their place in the line (by id) once
 * approved.
 *
 * The candidates are read in claim order from `jobs_claimable` (partial: queued jobs only), never
 * from the history; INDEXED BY keeps the planner from preferring another index and a sort.
 *
 * Attempts are counted here, and the fencing token is bumped: the previous holder's lease dies.
 */
export const CLAIM_SQL = `
UPDATE jobs
SET state = 'running', attempts = attempts + 1, lease_owner = @owner, lease_token = lease_token + 1,
    lease_expires_at = @now + @leaseMs, progress = NULL, started_at = @now, updated_at = @now
WHERE id = (
  SELECT j.id FROM jobs j INDEXED BY jobs_claimable
  WHERE j.state = 'queued' AND j.run_at <= @now
    AND NOT EXISTS (
      SELECT 1 FROM job_resources mine
      JOIN job_resources theirs ON theirs.resource = mine.resource AND theirs.job_id <> mine.job_id
      JOIN jobs o ON o.id = theirs.job_id
      WHERE mine.job_id = j.id
        AND (mine.mode = 'exclusive' OR theirs.mode = 'exclusive')
        AND (o.state = 'running' OR (o.state = 'queued' AND o.id < j.id)))
    AND (@hosts IS NULL OR j.host IN (SELECT value FROM json_each(@hosts)))
    AND (@perHost IS NULL OR (SELECT count(*) FROM jobs h WHERE h.host = j.host AND h.state = 'running') < @perHost)
  ORDER BY j.priority DESC, j.id
  LIMIT 1
)
RETURNING *`;

const FAIL_INVALID = `
UPDATE jobs
SET state = 'failed', error_code = 'invalid-input', error_message = @message,
    lease_expires_at = NULL, finished_at = @now, updated_at = @now
WHERE id = @jobId
RETURNING *`;

export interface ClaimLimits {
  /** At most this many running jobs per host (counting other workers' too). */
  perHost?: number;
  /** Only jobs for these hosts (the hosts this worker can reach). */
  hosts?: string[];
}

export interface ClaimResult {
  claimed: { job: Job; lease: Lease } | undefined;
  /** Jobs whose stored payload no longer passed its schema: failed permanently on the way. */
  invalid: Job[];
}

export function claimOp(ctx: StoreContext): (owner: string, leaseMs: number, limits?: ClaimLimits) => ClaimResult {
  const claim = ctx.db.prepare(CLAIM_SQL);
  const failInvalid = ctx.db.prepare(FAIL_INVALID);

  return immediate(ctx.db, (owner: string, leaseMs: number, limits: ClaimLimits = {}): ClaimResult => {
    const invalid: Job[] = [];
    const now = ctx.now();
    const params = {
      owner,
      leaseMs,
      now,
      hosts: limits.hosts ? JSON.stringify(limits.hosts) : null,
      perHost: limits.perHost ?? null,
    };
    for (;;) {
      const row = claim.get(params) as JobRow | undefined;
      if (!row) return { claimed: undefined, invalid };
      const job = rowToJob(row);
      try {
        validatePayload(job.kind, job.payload);
      } catch (e) {
        if (!isKvmopsError(e, 'invalid-input')) throw e;
        const failed = rowToJob(failInvalid.get({ jobId: job.id, message: e.message, now }) as JobRow);
        ctx.event('failed', failed);
        invalid.push(failed);
        continue;
      }
      ctx.event('running', job);
      return { claimed: { job, lease: { jobId: job.id, owner, token: job.leaseToken } }, invalid };
    }
  });
}
