import type { Statement } from 'better-sqlite3';
import { FINAL_STATES, type JobState } from '../domain/job-states.js';
import { type JobKind } from '../kinds/index.js';
import type { Database } from './db.js';

/**
 * Read-only figures about the queue for /metrics and /healthz. Called at every scrape and from
 * the bot's own process (one event loop with the worker and the chat adapter), so a call must
 * cost about the same with 200 jobs in the table as with 200,000:
 *
 * - counts by state and kind are kept incrementally per connection, because a GROUP BY over the
 *   whole table is a full scan (measured here: ~600 ms at 200,000 jobs). The first call counts
 *   everything once; later calls read only rows with a new id (a rowid range) plus the few rows
 *   that were still live last time (by primary key). This is exact because final states are
 *   final (a job never leaves succeeded / failed / cancelled) and ids only grow. Rows deleted by
 *   hand would go unnoticed, so everything is recounted once per `recountMs` (default 1 h).
 * - queue depth and the oldest queued job: the `jobs_claimable` partial index;
 * - running: the `jobs_lease` partial index; approvals pending: `approvals_pending`;
 * - recent durations: the newest ids first, stopping after `recentLimit` finished jobs.
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
  /** The most recent finished jobs, newest first. */
  recent: FinishedJobDuration[];
}

interface Statements {
  all: Statement<[], IdStateKind>;
  since: Statement<[number], IdStateKind>;
  byId: Statement<[number], IdStateKind>;
  queue: Statement<[number], { queued: number; runnable: number | null; oldest: number | null }>;
  running: Statement<[], { n: number }>;
  approvals: Statement<[], { n: number }>;
  recent: Statement<[number], { id: number; kind: string; state: string; started_at: number | null; finished_at: number }>;
  ping: Statement<[], { ok: number }>;
}

interface IdStateKind {
  id: number;
  state: string;
  kind: string;
}

/** Per connection: the final-state counts so far, and the rows that were live at the last call. */
interface Tally {
  finals: Map<string, number>;
  /** Highest id seen. */
  cursor: number;
  /** Ids at or below `cursor` that were not final yet. */
  live: Set<number>;
  countedAt: number;
}

const cache = new WeakMap<Database, Statements>();
const tallies = new WeakMap<Database, Tally>();

function statements(db: Database): Statements {
  let s = cache.get(db);
  if (!s) {
    const finals = [...FINAL_STATES].map((x) => `'${x}'`).join(', ');
    s = {
      all: db.prepare(`SELECT id, state, kind FROM jobs`),
      since: db.prepare(`SELECT id, state, kind FROM jobs WHERE id > ?`),
      byId: db.prepare(`SELECT id, state, kind FROM jobs WHERE id = ?`),
      queue: db.prepare(
        `SELECT COUNT(*) AS queued, SUM(run_at <= ?) AS runnable, MIN(created_at) AS oldest FROM jobs WHERE state = 'queued'`,
      ),
      running: db.prepare(`SELECT COUNT(*) AS n FROM jobs WHERE state = 'running'`),
      approvals: db.prepare(`SELECT COUNT(*) AS n FROM approvals WHERE state = 'pending'`),
      recent: db.prepare(
        `SELECT id, kind, state, started_at, finished_at FROM jobs
          WHERE state IN (${finals}) AND finished_at IS NOT NULL
          ORDER BY id DESC LIMIT ?`,
      ),
      ping: db.prepare(`SELECT 1 AS ok`),
    };
    cache.set(db, s);
  }
  return s;
}

const pairKey = (state: string, kind: string) => `${state}\u0000${kind}`;

/** Counts by (state, kind); must run inside a read transaction. */
function countJobs(db: Database, s: Statements, recountMs: number): JobCount[] {
  let tally = tallies.get(db);
  let rows: Iterable<IdStateKind>;
  if (!tally || Date.now() - tally.countedAt >= recountMs) {
    tally = { finals: new Map(), cursor: 0, live: new Set(), countedAt: Date.now() };
    tallies.set(db, tally);
    rows = s.all.iterate();
  } else {
    const again: IdStateKind[] = [];
    for (const id of tally.live) {
      const r = s.byId.get(id);
      if (r) again.push(r);
    }
    tally.live.clear();
    rows = [...again, ...s.since.iterate(tally.cursor)];
  }
  const live = new Map<string, number>();
  for (const r of rows) {
    const map = FINAL_STATES.has(r.state as JobState) ? tally.finals : live;
    const k = pairKey(r.state, r.kind);
    map.set(k, (map.get(k) ?? 0) + 1);
    if (map === live) tally.live.add(r.id);
    if (r.id > tally.cursor) tally.cursor = r.id;
  }
  return [...tally.finals, ...live].map(([k, count]) => {
    const [state, kind] = k.split('\u0000') as [JobState, JobKind];
    return { state, kind, count };
  });
}

export interface JobStatsOptions {
  now?: number;
  /** How many recent finished jobs; default 50. */
  recentLimit?: number;
  /** Full recount of the (state, kind) counts at least this often; default 1 h. */
  recountMs?: number;
}

export function jobStats(db: Database, opts: JobStatsOptions = {}): JobStats {
  const s = statements(db);
  const now = opts.now ?? Date.now();
  // One read transaction: the figures are one consistent snapshot even while the worker writes.
  return db.transaction(() => {
    const q = s.queue.get(now) ?? { queued: 0, runnable: 0, oldest: null };
    return {
      counts: countJobs(db, s, opts.recountMs ?? 3_600_000),
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
