import { randomUUID } from 'node:crypto';
import BetterSqlite3 from 'better-sqlite3';
import { KvmopsError } from '../domain/errors.js';
import type { JobResource } from '../domain/resources.js';
import { KINDS_NEEDING_APPROVAL, isJobKind, jobResources, kindOf, type JobKind } from '../kinds/index.js';
import { immediate, type StoreContext } from './context.js';
import { rowToJob, type JobRow } from './rows.js';
import type { EnqueueRequest, Job } from './types.js';

export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_APPROVAL_TTL_MS = 30 * 60_000;

const INSERT_JOB = `
INSERT INTO jobs (request_id, kind, payload, state, lock_key, host, dedupe_key, priority, run_at, max_attempts,
                  requester_id, requester_name, notify_adapter, notify_guild_id, notify_channel_id,
                  batch_id, quiet, created_at, updated_at)
VALUES (@requestId, @kind, @payload, @state, @lockKey, @host, @dedupeKey, @priority, @now, @maxAttempts,
        @requesterId, @requesterName, @adapter, @guildId, @channelId, @batchId, @quiet, @now, @now)
RETURNING *`;

const INSERT_APPROVAL = `
INSERT INTO approvals (job_id, state, requester_id, expires_at, created_at)
VALUES (?, 'pending', ?, ?, ?)`;

const INSERT_RESOURCE = `
INSERT INTO job_resources (job_id, resource, mode, creates) VALUES (@jobId, @key, @mode, @creates)`;

/** The live job that creates a resource (the rows of final jobs are gone: migration 002). */
const CREATOR_OF = `SELECT job_id AS jobId FROM job_resources WHERE resource = ? AND creates = 1`;

const LIVE_BY_DEDUPE = `
SELECT id FROM jobs WHERE dedupe_key = ? AND state IN ('awaiting_approval', 'queued', 'running')`;

/** The payload checked by its kind's schema; what is stored is the parsed (normalised) payload. */
export function validatePayload(kind: string, payload: unknown): Record<string, unknown> {
  if (!isJobKind(kind)) throw new KvmopsError('invalid-input', `unknown job kind: ${kind}`, { details: { kind } });
  const parsed = kindOf(kind).payload.safeParse(payload);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`);
    throw new KvmopsError('invalid-input', `bad ${kind} payload: ${issues.join('; ')}`, { details: { kind, issues } });
  }
  return parsed.data as Record<string, unknown>;
}

/**
 * A new job: `awaiting_approval` (with a pending approval row) or `queued`, holding its
 * resources; one event of that same type. Two partial UNIQUE indexes make the refusals atomic,
 * even when two processes enqueue at the same instant:
 *  - a live job with the same dedupe key → `duplicate-job` with details.jobId;
 *  - a live job that already creates one of this job's new names (a deploy's VM names, a new
 *    template's name) → `name-taken` with details.jobId and details.names.
 * Either refusal rolls the whole transaction back: nothing of the new job remains.
 */
export function enqueueOp(ctx: StoreContext): (req: EnqueueRequest) => Job {
  const insert = insertJobOp(ctx);
  const tx = immediate(ctx.db, (req: EnqueueRequest, payload: Record<string, unknown>): Job => insert(req, payload, null));
  return (req) => tx(req, checkRequest(req));
}

/** The payload parsed by its kind's schema, and the request's numbers checked: before any transaction. */
export function checkRequest(req: EnqueueRequest): Record<string, unknown> {
  const payload = validatePayload(req.kind, req.payload);
  if (req.maxAttempts !== undefined && !(Number.isInteger(req.maxAttempts) && req.maxAttempts >= 1)) {
    throw new KvmopsError('invalid-input', 'maxAttempts must be an integer ≥ 1');
  }
  if (req.priority !== undefined && !Number.isInteger(req.priority)) {
    throw new KvmopsError('invalid-input', 'priority must be an integer');
  }
  return payload;
}

/**
 * One job's rows — job, resources, approval, first event — for a caller that holds the
 * transaction (enqueue: one job; enqueue-batch.ts: a batch, all or none). `batchId` is stored
 * on the job (null: a job on its own).
 */
export function insertJobOp(ctx: StoreContext): (req: EnqueueRequest, payload: Record<string, unknown>, batchId: number | null) => Job {
  const insertJob = ctx.db.prepare(INSERT_JOB);
  const insertApproval = ctx.db.prepare<[number, string, number, number]>(INSERT_APPROVAL);
  const liveByDedupe = ctx.db.prepare<[string], { id: number }>(LIVE_BY_DEDUPE);
  const insertResource = ctx.db.prepare(INSERT_RESOURCE);
  const creatorOf = ctx.db.prepare<[string], { jobId: number }>(CREATOR_OF);

  /** The first live job already creating one of these names, with the names it holds of them. */
  const takenBy = (resources: JobResource[]): { jobId: number; held: JobResource[] } | undefined => {
    const holders = resources.filter((r) => r.creates).map((r) => ({ r, jobId: creatorOf.get(r.key)?.jobId }));
    const first = holders.find((h) => h.jobId !== undefined);
    return first && { jobId: first.jobId!, held: holders.filter((h) => h.jobId === first.jobId).map((h) => h.r) };
  };

  return (req: EnqueueRequest, payload: Record<string, unknown>, batchId: number | null): Job => {
    const now = ctx.now();
    const needsApproval = req.needsApproval ?? KINDS_NEEDING_APPROVAL.has(req.kind);
    const key = dedupeKey(req.kind, payload);
    const resources = jobResources(req.kind, payload);
    const taken = takenBy(resources);
    if (taken) throw nameTaken(taken.jobId, taken.held);
    let row: JobRow;
    try {
      row = insertJob.get({
        requestId: newRequestId(),
        kind: req.kind,
        payload: JSON.stringify(payload),
        state: needsApproval ? 'awaiting_approval' : 'queued',
        lockKey: resources[0]!.key,
        host: String(payload.host),
        dedupeKey: key,
        priority: req.priority ?? 0,
        maxAttempts: req.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
        requesterId: req.requester.id,
        requesterName: req.requester.name,
        adapter: req.notify.adapter,
        guildId: req.notify.guildId,
        channelId: req.notify.channelId,
        batchId,
        quiet: req.quiet ? 1 : 0,
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
    for (const r of resources) {
      try {
        insertResource.run({ jobId: job.id, key: r.key, mode: r.mode, creates: r.creates ? 1 : 0 });
      } catch (e) {
        // Unreachable while enqueue is IMMEDIATE (the check above saw every committed row); kept
        // so that the index, not the check, is the last word.
        const holder = e instanceof BetterSqlite3.SqliteError && e.code === 'SQLITE_CONSTRAINT_UNIQUE' && creatorOf.get(r.key);
        if (!holder) throw e;
        throw nameTaken(holder.jobId, [r]);
      }
    }
    if (needsApproval) insertApproval.run(job.id, req.requester.id, now + (req.approvalTtlMs ?? DEFAULT_APPROVAL_TTL_MS), now);
    ctx.event(needsApproval ? 'awaiting_approval' : 'queued', job);
    return job;
  };
}

/**
 * `req-<uuid>`: random, so no other job — in this database, a restored copy of it, or another
 * database on the same host — ever has it. A valid name (the hypervisor checks it as one: the
 * prefix keeps it from being read as a uuid).
 */
export function newRequestId(): string {
  return `req-${randomUUID()}`;
}

/** `name-taken` for names a live job is already making: "r-01, r-02 … (job 12 is making them)". */
function nameTaken(jobId: number, held: JobResource[]): KvmopsError {
  const names = held.map((r) => r.key.slice(r.key.lastIndexOf('/') + 1));
  const what = held[0]!.key.includes('/template/') ? 'template' : 'VM';
  const list = names.length > 4 ? `${names.slice(0, 4).join(', ')} and ${names.length - 4} more` : names.join(', ');
  return new KvmopsError(
    'name-taken',
    `${what} name${names.length === 1 ? '' : 's'} ${list} ${names.length === 1 ? 'is' : 'are'} already being made by job ${jobId}`,
    { details: { jobId, names } },
  );
}

/** Same kind + target + options: a live job with this key refuses a duplicate. */
export function dedupeKey(kind: JobKind, payload: Record<string, unknown>): string {
  const sorted = Object.fromEntries(Object.entries(payload).sort(([a], [b]) => a.localeCompare(b)));
  return `${kind}:${JSON.stringify(sorted)}`;
}
