import { KvmopsError } from '../domain/errors.js';
import { reportingBusy } from './busy.js';
import { immediate, type StoreContext } from './context.js';
import { rowToApproval, rowToJob, type ApprovalRow, type JobRow } from './rows.js';
import type { Approval, Approvals, DecideOutcome, Decision, Job, Requester } from './types.js';

const SELECT = `SELECT * FROM approvals WHERE job_id = ?`;
const BY_MESSAGE = `SELECT * FROM approvals WHERE message_id = ?`;
// Both on `approvals_pending` (pending approvals only): with `ORDER BY job_id` alone the planner
// scanned every approval ever made. Exported for test/jobs/query-plans.test.ts.
export const PENDING_APPROVALS_SQL = `SELECT * FROM approvals INDEXED BY approvals_pending WHERE state = 'pending' ORDER BY job_id`;
export const DUE_APPROVALS_SQL = `SELECT * FROM approvals INDEXED BY approvals_pending WHERE state = 'pending' AND expires_at <= ? ORDER BY job_id`;

const ATTACH = `
UPDATE approvals SET adapter = @adapter, channel_id = @channelId, message_id = @messageId
WHERE job_id = @jobId
RETURNING *`;

const SETTLE = `
UPDATE approvals SET state = @state, decided_by = @by, decided_at = @now
WHERE job_id = @jobId AND state = 'pending'
RETURNING *`;

/** Only a job still awaiting approval moves; the `state` guard makes a racing second decision a no-op. */
const QUEUE_JOB = `
UPDATE jobs SET state = 'queued', run_at = @now, updated_at = @now
WHERE id = @jobId AND state = 'awaiting_approval'
RETURNING *`;

const CANCEL_JOB = `
UPDATE jobs
SET state = 'cancelled', error_code = 'aborted', error_message = @message, finished_at = @now, updated_at = @now
WHERE id = @jobId AND state = 'awaiting_approval'
RETURNING *`;

/**
 * The other pending approvals of a job's batch (none for a job on its own): one approval
 * decides a batch, so deciding any job of it settles them all (jobs_batch, ≤ KVMOPS_MAX_BATCH).
 */
export const PENDING_OF_BATCH_SQL = `
SELECT a.* FROM jobs j INDEXED BY jobs_batch JOIN approvals a ON a.job_id = j.id
WHERE j.batch_id = (SELECT batch_id FROM jobs WHERE id = @jobId) AND j.id <> @jobId AND a.state = 'pending'
ORDER BY j.id`;

type DecideResult = { decided: DecideOutcome; others: Job[] } | { expired: Job; approval: Approval; others: Job[] };

/**
 * The approval state machine: pending → approved | rejected | expired (| cancelled, by
 * `/job cancel`). Each transition moves the approval and its job together in one transaction,
 * with the job's events. The policy — approver role, two-person rule — is the caller's.
 * A batch (migration 010) has one approval per job, decided together: deciding any of them
 * settles every pending one of the batch the same way in the same transaction (approve queues
 * them all, reject cancels them all); they share one expiry, so the sweeper expires them together.
 */
export class SqliteApprovals implements Approvals {
  readonly #select;
  readonly #byMessage;
  readonly #pending;
  readonly #attach;
  readonly #decide: (jobId: number, decision: Decision, by: Requester) => DecideResult;
  readonly #expireDue: (now: number) => Job[];

  constructor(
    private readonly ctx: StoreContext,
    /** Called after commit with every job that changed (the store's listeners). */
    private readonly changed: (job: Job) => void,
  ) {
    const { db } = ctx;
    this.#select = db.prepare<[number], ApprovalRow>(SELECT);
    this.#byMessage = db.prepare<[string], ApprovalRow>(BY_MESSAGE);
    this.#pending = db.prepare<[], ApprovalRow>(PENDING_APPROVALS_SQL);
    this.#attach = db.prepare(ATTACH);
    const due = db.prepare<[number], ApprovalRow>(DUE_APPROVALS_SQL);
    const settle = db.prepare(SETTLE);
    const queueJob = db.prepare(QUEUE_JOB);
    const cancelJob = db.prepare(CANCEL_JOB);
    const pendingOfBatch = db.prepare<{ jobId: number }, ApprovalRow>(PENDING_OF_BATCH_SQL);

    const expire = (row: ApprovalRow, now: number): { approval: Approval; job: Job } => {
      const approval = rowToApproval(settle.get({ jobId: row.job_id, state: 'expired', by: null, now }) as ApprovalRow);
      const job = rowToJob(waiting(cancelJob.get({ jobId: row.job_id, message: 'approval expired', now }), row.job_id));
      ctx.event('approval_expired', job);
      ctx.event('cancelled', job);
      return { approval, job };
    };

    this.#expireDue = immediate(db, (now: number) => due.all(now).map((row) => expire(row, now).job));

    this.#decide = immediate(db, (jobId: number, decision: Decision, by: Requester): DecideResult => {
      const row = this.#select.get(jobId);
      if (!row) throw new KvmopsError('job-not-found', `job ${jobId} has no approval`, { details: { jobId } });
      const now = ctx.now();
      if (row.state !== 'pending') throw alreadyDecided(rowToApproval(row));
      const batch = pendingOfBatch.all({ jobId });
      if (row.expires_at <= now) {
        const { approval, job } = expire(row, now);
        return { expired: job, approval, others: batch.map((r) => expire(r, now).job) };
      }
      const approved = decision === 'approve';
      const settleOne = (id: number): { approval: Approval; job: Job } => {
        const approval = rowToApproval(settle.get({ jobId: id, state: approved ? 'approved' : 'rejected', by: by.id, now }) as ApprovalRow);
        const job = rowToJob(
          waiting(approved ? queueJob.get({ jobId: id, now }) : cancelJob.get({ jobId: id, now, message: `rejected by ${by.name}` }), id),
        );
        ctx.event(approved ? 'queued' : 'cancelled', job);
        return { approval, job };
      };
      const decided = settleOne(jobId);
      return { decided, others: batch.map((r) => settleOne(r.job_id).job) };
    });
  }

  /** Throws `db-busy` when the database is locked or full (nothing written; safe to retry). */
  attachMessage(jobId: number, message: { adapter: string; channelId: string; messageId: string }): Approval {
    const row = reportingBusy(() => this.#attach.get({ jobId, ...message })) as ApprovalRow | undefined;
    if (!row) throw new KvmopsError('job-not-found', `job ${jobId} has no approval`, { details: { jobId } });
    return rowToApproval(row);
  }

  byMessage(messageId: string): Approval | undefined {
    const row = this.#byMessage.get(messageId);
    return row && rowToApproval(row);
  }

  get(jobId: number): Approval | undefined {
    const row = this.#select.get(jobId);
    return row && rowToApproval(row);
  }

  listPending(): Approval[] {
    return this.#pending.all().map(rowToApproval);
  }

  decide(jobId: number, decision: Decision, by: Requester): DecideOutcome {
    const result = this.#decide(jobId, decision, by);
    if ('expired' in result) {
      // The expiry committed (it is a fact whatever the caller does next); the decision is refused.
      this.changed(result.expired);
      result.others.forEach(this.changed);
      throw alreadyDecided(result.approval);
    }
    this.changed(result.decided.job);
    result.others.forEach(this.changed);
    return { ...result.decided, ...(result.others.length ? { batch: result.others } : {}) };
  }

  expireDue(now: number = this.ctx.now()): Job[] {
    const jobs = this.#expireDue(now);
    jobs.forEach(this.changed);
    return jobs;
  }
}

/** A pending approval's job must be awaiting approval; anything else is a broken invariant. */
function waiting(row: unknown, jobId: number): JobRow {
  if (!row) throw new KvmopsError('internal', `job ${jobId} has a pending approval but is not awaiting approval`);
  return row as JobRow;
}

function alreadyDecided(a: Approval): KvmopsError {
  return new KvmopsError('already-decided', `job ${a.jobId}: the request was already ${a.state}`, {
    details: { jobId: a.jobId, state: a.state, decidedBy: a.decidedBy, decidedAt: a.decidedAt },
  });
}
