import BetterSqlite3 from 'better-sqlite3';
import { KvmopsError } from '../domain/errors.js';
import { JOB_PAYLOADS, KINDS_NEEDING_APPROVAL, dedupeKey, lockKey, type JobKind } from '../domain/job-kinds.js';
import { immediate, type OpContext } from './context.js';
import { rowToJob, type JobRow } from './rows.js';
import type { EnqueueRequest, Job } from './types.js';

export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_APPROVAL_TTL_MS = 30 * 60_000;

const INSERT_JOB = `
INSERT INTO jobs (kind, payload, state, lock_key, host, dedupe_key, priority, run_at, max_attempts,
                  requester_id, requester_name, notify_adapter, notify_guild_id, notify_channel_id,
                  created_at, updated_at)
VALUES (@kind, @payload, @state, @lockKey, @host, @dedupeKey, @priority, @now, @maxAttempts,
        @requesterId, @requesterName, @adapter, @guildId, @channelId, @now, @now)
RETURNING *`;

const INSERT_APPROVAL = `
INSERT INTO approvals (job_id, state, requester_id, expires_at, created_at)
VALUES (?, 'pending', ?, ?, ?)`;

const LIVE_BY_DEDUPE = `
SELECT id FROM jobs WHERE dedupe_key = ? AND state IN ('awaiting_approval', 'queued', 'running')`;

/** The payload checked by its kind's schema; what is stored is the parsed (normalised) payload. */
export function validatePayload(kind: string, payload: unknown): Record<string, unknown> {
  const schema = (JOB_PAYLOADS as Record<string, (typeof JOB_PAYLOADS)[JobKind] | undefined>)[kind];
  if (!schema) throw new KvmopsError('invalid-input', `unknown job kind: ${kind}`, { details: { kind } });
  const parsed = schema.safeParse(payload);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`);
    throw new KvmopsError('invalid-input', `bad ${kind} payload: ${issues.join('; ')}`, { details: { kind, issues } });
  }
  return parsed.data as Record<string, unknown>;
}

/**
 * A new job: `awaiting_approval` (with a pending approval row) or `queued`; one event of that
 * same type. A live job with the same dedupe key makes the partial UNIQUE index refuse the
 * INSERT, which becomes `duplicate-job` with details.jobId — so a duplicate is refused even
 * when two processes enqueue at the same instant.
 */
export function enqueueOp(ctx: OpContext): (req: EnqueueRequest) => Job {
  const insertJob = ctx.db.prepare(INSERT_JOB);
  const insertApproval = ctx.db.prepare<[number, string, number, number]>(INSERT_APPROVAL);
  const liveByDedupe = ctx.db.prepare<[string], { id: number }>(LIVE_BY_DEDUPE);

  const tx = immediate(ctx.db, (req: EnqueueRequest, payload: Record<string, unknown>): Job => {
    const now = ctx.now();
    const needsApproval = req.needsApproval ?? KINDS_NEEDING_APPROVAL.has(req.kind);
    const key = dedupeKey(req.kind, payload);
    let row: JobRow;
    try {
      row = insertJob.get({
        kind: req.kind,
        payload: JSON.stringify(payload),
        state: needsApproval ? 'awaiting_approval' : 'queued',
        lockKey: lockKey(req.kind, payload),
        host: String(payload.host),
        dedupeKey: key,
        priority: req.priority ?? 0,
        maxAttempts: req.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        requesterId: req.requester.id,
        requesterName: req.requester.name,
        adapter: req.notify.adapter,
        guildId: req.notify.guildId,
        channelId: req.notify.channelId,
        now,
      }) as JobRow;
    } catch (e) {
      const live = e instanceof BetterSqlite3.SqliteError && e.code === 'SQLITE_CONSTRAINT_UNIQUE' && liveByDedupe.get(key);
      if (!live) throw e;
      throw new KvmopsError('duplicate-job', `the same job is already waiting or running: job ${live.id}`, {
        details: { jobId: live.id },
        cause: e,
      });
    }
    const job = rowToJob(row);
    if (needsApproval) insertApproval.run(job.id, req.requester.id, now + (req.approvalTtlMs ?? DEFAULT_APPROVAL_TTL_MS), now);
    ctx.event(needsApproval ? 'awaiting_approval' : 'queued', job);
    return job;
  });

  return (req) => {
    const payload = validatePayload(req.kind, req.payload);
    if (req.maxAttempts !== undefined && !(Number.isInteger(req.maxAttempts) && req.maxAttempts >= 1)) {
      throw new KvmopsError('invalid-input', 'maxAttempts must be an integer ≥ 1');
    }
    if (req.priority !== undefined && !Number.isInteger(req.priority)) {
      throw new KvmopsError('invalid-input', 'priority must be an integer');
    }
    return tx(req, payload);
  };
}
