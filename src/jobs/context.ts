import type { Database } from 'better-sqlite3';
import { reportingBusy } from './busy.js';
import type { Job, JobEventType } from './types.js';
import type { BackoffPolicy } from './backoff.js';
import { snapshotOf } from './snapshot.js';

/**
 * What every queue operation gets: the connection, the clock, and the outbox writer. Each
 * operation file prepares its statements once and returns a function that runs in one
 * IMMEDIATE transaction (the write lock is taken up front, so reads inside it cannot go stale,
 * and a lock held by another process shows at BEGIN — after busy_timeout's few ms — as
 * KvmopsError `db-busy` with nothing written; callers that must not lose the write retry it,
 * see retry.ts).
 */
export interface StoreContext {
  db: Database;
  /** Epoch ms; injectable so tests can move time for expiry and backoff. */
  now: () => number;
  /** In [0, 1): the retry jitter; injectable for tests. */
  random: () => number;
  backoff: BackoffPolicy;
  /** Writes the outbox row for a change; must be called inside the change's transaction. */
  event: (type: JobEventType, job: Job) => void;
}

export interface ContextOptions {
  now?: () => number;
  random?: () => number;
  backoff?: BackoffPolicy;
}

/** The outbox insert, exported so the bench's bare baseline runs the very same statement. */
export const INSERT_EVENT_SQL = `
INSERT INTO job_events (job_id, type, adapter, guild_id, channel_id, kind, state, title, requester_id, requester_name,
  job_attempts, max_attempts, recovered, cancel_requested, run_at, started_at, finished_at, progress_step,
  progress_fraction, result, error_code, error_message, created_at)
VALUES (@jobId, @type, @adapter, @guildId, @channelId, @kind, @state, @title, @requesterId, @requesterName,
  @jobAttempts, @maxAttempts, @recovered, @cancelRequested, @runAt, @startedAt, @finishedAt, @progressStep,
  @progressFraction, @result, @errorCode, @errorMessage, @createdAt)`;

/** The parameters of INSERT_EVENT_SQL for a change of `job`: its snapshot (snapshot.ts), not a copy. */
export function eventParams(type: JobEventType, job: Job): Record<string, string | number | null> {
  const s = snapshotOf(job);
  return {
    jobId: s.id,
    type,
    adapter: s.notify.adapter,
    guildId: s.notify.guildId,
    channelId: s.notify.channelId,
    kind: s.kind,
    state: s.state,
    title: s.title,
    requesterId: s.requester.id,
    requesterName: s.requester.name,
    jobAttempts: s.attempts,
    maxAttempts: s.maxAttempts,
    recovered: s.recovered ? 1 : 0,
    cancelRequested: s.cancelRequested ? 1 : 0,
    runAt: s.runAt,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    progressStep: s.progress?.step ?? null,
    progressFraction: s.progress?.fraction ?? null,
    result: s.result,
    errorCode: s.error?.code ?? null,
    errorMessage: s.error?.message ?? null,
    // The event's time is the job's updated_at: the change and its event share one instant.
    createdAt: s.updatedAt,
  };
}

export function createContext(db: Database, opts: ContextOptions = {}): StoreContext {
  const insertEvent = db.prepare(INSERT_EVENT_SQL);
  return {
    db,
    now: opts.now ?? Date.now,
    random: opts.random ?? Math.random,
    backoff: opts.backoff ?? { baseMs: 2_000, capMs: 5 * 60_000 },
    event: (type, job) => insertEvent.run(eventParams(type, job)),
  };
}

/**
 * Runs `fn` in an IMMEDIATE transaction (nested calls become savepoints). A transient SQLite
 * error (busy, locked, full) rolls it all back and is thrown as `db-busy`.
 */
export function immediate<A extends unknown[], R>(db: Database, fn: (...args: A) => R): (...args: A) => R {
  const tx = db.transaction(fn);
  return (...args: A) => reportingBusy(() => tx.immediate(...args));
}

