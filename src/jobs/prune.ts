import { FINAL_STATES } from '../domain/job-states.js';
import { immediate, type StoreContext } from './context.js';

/**
 * Retention (KVMOPS_RETENTION, KVMOPS_AUDIT_RETENTION): one small step of deleting old history,
 * in one IMMEDIATE transaction, at most `limit` rows (default 250, at most 1,000) (jobs, events, approvals and audit rows
 * together), so a step holds the write lock and the event loop for a few ms. The caller
 * (src/worker/pruner.ts) repeats steps, yielding to the event loop between them.
 *
 * What goes: a job that is finished (succeeded, failed, cancelled) and finished before
 * `finishedBefore`, with its events and its approval; audit rows written before `auditBefore`.
 * What stays, always: a job that is live (awaiting approval, queued, running) and a finished job
 * with any event not yet delivered (an adapter that is not running now delivers it when it runs;
 * the job goes at a later prune, once delivered). Deleted jobs leave `job_counts` through its
 * trigger, so the metrics count what the database holds.
 *
 * Candidates are read oldest finish first on `jobs_finished`, from `after` on (the last job the
 * previous step went past), so kept jobs are stepped over, not read again by every step.
 */

const FINALS = [...FINAL_STATES].map((s) => `'${s}'`).join(', ');

// Exported for test/jobs/query-plans.test.ts.
export const PRUNE_SQL = {
  candidates: `SELECT id, finished_at FROM jobs INDEXED BY jobs_finished
    WHERE state IN (${FINALS}) AND finished_at < @before AND (finished_at, id) > (@afterAt, @afterId)
    ORDER BY finished_at, id LIMIT @limit`,
  undelivered: `SELECT 1 FROM job_events WHERE job_id = ? AND delivered_at IS NULL LIMIT 1`,
  events: `DELETE FROM job_events WHERE id IN (SELECT id FROM job_events WHERE job_id = ? ORDER BY id LIMIT ?)`,
  approval: `DELETE FROM approvals WHERE job_id = ?`,
  job: `DELETE FROM jobs WHERE id = ? AND state IN (${FINALS})`,
  audit: `DELETE FROM audit WHERE id IN (SELECT id FROM audit INDEXED BY audit_at WHERE at < ? ORDER BY at LIMIT ?)`,
} as const;

/** Where a prune run is: the last finished job a step went past (deleted or kept). */
export interface PruneCursor {
  finishedAt: number;
  id: number;
}

export interface PruneStepOptions {
  /** Finished jobs that finished before this (epoch ms) go; null keeps every job. */
  finishedBefore: number | null;
  /** Audit rows written before this go; null keeps every audit row. */
  auditBefore: number | null;
  /** Rows deleted at most in this step, all tables together. Default 250, at most 1,000. */
  limit?: number;
  after?: PruneCursor;
}

export interface PruneStepResult {
  jobs: number;
  events: number;
  approvals: number;
  audit: number;
  /** Finished jobs stepped over because an event of theirs is still undelivered. */
  kept: number;
  /** Pass it to the next step. */
  after: PruneCursor;
  /** Nothing left to prune (for now): the run can end. */
  done: boolean;
}

/** The most rows a step may delete; and the default, smaller: ~2–5 ms a step here. */
export const PRUNE_STEP_LIMIT = 1_000;
export const PRUNE_STEP_DEFAULT = 250;
const START: PruneCursor = { finishedAt: Number.MIN_SAFE_INTEGER, id: 0 };

export function pruneOp(ctx: StoreContext): (opts: PruneStepOptions) => PruneStepResult {
  const s = {
    candidates: ctx.db.prepare<{ before: number; afterAt: number; afterId: number; limit: number }, { id: number; finished_at: number }>(
      PRUNE_SQL.candidates,
    ),
    undelivered: ctx.db.prepare<[number]>(PRUNE_SQL.undelivered),
    events: ctx.db.prepare<[number, number]>(PRUNE_SQL.events),
    approval: ctx.db.prepare<[number]>(PRUNE_SQL.approval),
    job: ctx.db.prepare<[number]>(PRUNE_SQL.job),
    audit: ctx.db.prepare<[number, number]>(PRUNE_SQL.audit),
  };

  const step = immediate(ctx.db, (opts: PruneStepOptions): PruneStepResult => {
    const limit = Math.max(1, Math.min(opts.limit ?? PRUNE_STEP_DEFAULT, PRUNE_STEP_LIMIT));
    const r: PruneStepResult = { jobs: 0, events: 0, approvals: 0, audit: 0, kept: 0, after: opts.after ?? START, done: false };
    let budget = limit;
    let jobsDone = opts.finishedBefore === null;
    if (!jobsDone) {
      const candidates = s.candidates.all({ before: opts.finishedBefore!, afterAt: r.after.finishedAt, afterId: r.after.id, limit });
      jobsDone = candidates.length < limit;
      for (const c of candidates) {
        if (s.undelivered.get(c.id)) {
          r.kept++;
          r.after = { finishedAt: c.finished_at, id: c.id };
          continue;
        }
        // The job row and its approval need 2 rows of the budget; events take the rest.
        if (budget < 3) {
          jobsDone = false;
          break;
        }
        const room = budget - 2;
        const events = s.events.run(c.id, room).changes;
        r.events += events;
        budget -= events;
        if (events === room) {
          // Maybe more events than this step may delete: the job is finished in the next step.
          jobsDone = false;
          break;
        }
        const approvals = s.approval.run(c.id).changes;
        r.approvals += approvals;
        const jobs = s.job.run(c.id).changes;
        r.jobs += jobs;
        budget -= approvals + jobs;
        r.after = { finishedAt: c.finished_at, id: c.id };
      }
    }
    let auditDone = opts.auditBefore === null;
    if (!auditDone && budget > 0) {
      const audit = s.audit.run(opts.auditBefore!, budget).changes;
      r.audit = audit;
      auditDone = audit < budget;
    }
    r.done = jobsDone && auditDone;
    return r;
  });

  // A prune's commit does not wait for the disk (synchronous NORMAL, for this commit only: the
  // connection goes back to its own setting before any other code runs). The fsync of a
  // commit is what made steps block the loop for 100 ms and more on a busy disk; a prune lost
  // to a power cut is simply done again, and the next FULL commit makes it durable anyway.
  return (opts) => {
    const sync = ctx.db.pragma('synchronous', { simple: true }) as number;
    ctx.db.pragma('synchronous = NORMAL');
    try {
      return step(opts);
    } finally {
      ctx.db.pragma(`synchronous = ${sync}`);
    }
  };
}
