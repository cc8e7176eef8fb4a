import type { Statement } from 'better-sqlite3';
import { FINAL_STATES, type JobState } from '../domain/job-states.js';
import { type JobKind } from '../kinds/index.js';
import type { Database } from './db.js';

/**
 * Read-only figures about the queue for /metrics and /healthz. Called at every scrape and from
 * the bot's own process (one event loop with the worker and the chat adapter), so a call must
 * cost the same with 200 jobs in the table as with 1,000,000 — every statement below reads an
 * index bounded by the live jobs or by a LIMIT, never the history (plans pinned by
 * test/jobs/query-plans.test.ts):
 *
 * - counts by state and kind: the `job_counts` table, kept by triggers on `jobs` in the same
 *   transaction as every insert, state change and delete (migration 005) — a few rows, exact,
 *   whoever changed the jobs (the prune, or a hand-written DELETE, included);
 * - queue depth and the oldest queued job: `jobs_claimable` (queued jobs only);
 * - running: `jobs_lease` (running jobs only); approvals pending: `approvals_pending`;
 * - recent durations: `jobs_finished`, newest finish first, `recentLimit` rows.
 *
 * Everything is read in one read transaction: one consistent snapshot while the worker writes.
 */

export interface JobCount {
  state: JobState;
  kind: JobKind;
  count: number;
}

export interface FinishedJobDuration {
  id: number;
  kind: JobKind;
  state: JobState;
  /** finished_at − started_at; null when the job never ran (cancelled while queued …). */
  durationMs: number | null;
  finishedAt: number;
}

export interface JobStats {
  /** Only the (state, kind) pairs that have jobs; absent pairs are 0. */
  counts: JobCount[];
  /** Jobs in `queued` (including those waiting for their run_at, e.g. a retry's backoff). */
  queued: number;
  /** Queued jobs whose run_at has come: what the worker could start now if it had capacity. */
  runnable: number;
  running: number;
  /** created_at of the oldest queued job, epoch ms; null with an empty queue. */
  oldestQueuedAt: number | null;
  approvalsPending: number;
  /** The most recently finished jobs, newest finish first. */
  recent: FinishedJobDuration[];
}

// Exported for test/jobs/query-plans.test.ts.
export const STATS_SQL = {
  counts: `SELECT state, kind, n FROM job_counts WHERE n > 0`,
  queue: `SELECT COUNT(*) AS queued, SUM(run_at <= ?) AS runnable, MIN(created_at) AS oldest FROM jobs INDEXED BY jobs_claimable WHERE state = 'queued'`,
  running: `SELECT COUNT(*) AS n FROM jobs INDEXED BY jobs_lease WHERE state = 'running'`,
  approvals: `SELECT COUNT(*) AS n FROM approvals INDEXED BY approvals_pending WHERE state = 'pending'`,
  recent: `SELECT id, kind, state, started_at, finished_at FROM jobs INDEXED BY jobs_finished
    WHERE state IN (${[...FINAL_STATES].map((x) => `'${x}'`).join(', ')}) AND finished_at IS NOT NULL
    ORDER BY finished_at DESC LIMIT ?`,
} as const;

interface Statements {
  counts: Statement<[], { state: string; kind: string; n: number }>;
  queue: Statement<[number], { queued: number; runnable: number | null; oldest: number | null }>;
  running: Statement<[], { n: number }>;
  approvals: Statement<[], { n: number }>;
  recent: Statement<[number], { id: number; kind: string; state: string; started_at: number | null; finished_at: number }>;
  ping: Statement<[], { ok: number }>;
}

const cache = new WeakMap<Database, Statements>();

function statements(db: Database): Statements {
  let s = cache.get(db);
  if (!s) {
    s = {
      counts: db.prepare(STATS_SQL.counts),
      queue: db.prepare(STATS_SQL.queue),
      running: db.prepare(STATS_SQL.running),
      approvals: db.prepare(STATS_SQL.approvals),
      recent: db.prepare(STATS_SQL.recent),
      ping: db.prepare(`SELECT 1 AS ok`),
    };
    cache.set(db, s);
  }
  return s;
}

export interface JobStatsOptions {
  now?: number;
  /** How many recent finished jobs; default 50. */
  recentLimit?: number;
}

export function jobStats(db: Database, opts: JobStatsOptions = {}): JobStats {
  const s = statements(db);
  const now = opts.now ?? Date.now();
  // One read transaction: the figures are one consistent snapshot even while the worker writes.
  return db.transaction(() => {
    const q = s.queue.get(now) ?? { queued: 0, runnable: 0, oldest: null };
    return {
      counts: s.counts.all().map((r) => ({ state: r.state as JobState, kind: r.kind as JobKind, count: r.n })),
      queued: q.queued,
      runnable: q.runnable ?? 0,
      running: s.running.get()?.n ?? 0,
      oldestQueuedAt: q.oldest,
      approvalsPending: s.approvals.get()?.n ?? 0,
      recent: s.recent.all(opts.recentLimit ?? 50).map((r) => ({
        id: r.id,
        kind: r.kind as JobKind,
        state: r.state as JobState,
        durationMs: r.started_at === null ? null : r.finished_at - r.started_at,
        finishedAt: r.finished_at,
      })),
    };
  }).deferred();
}

/** The /healthz database check: `SELECT 1` on the bot's own connection. Never throws. */
export function checkDatabase(db: Database): { ok: boolean; detail: string } {
  const started = performance.now();
  try {
    const ok = statements(db).ping.get()?.ok === 1;
    const ms = (performance.now() - started).toFixed(1);
    return ok ? { ok: true, detail: `SELECT 1 answered in ${ms} ms` } : { ok: false, detail: 'SELECT 1 returned no row' };
  } catch (e) {
    return { ok: false, detail: e instanceof Error ? e.message : String(e) };
  }
}
