import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { isKvmopsError } from '../domain/errors.js';
import { stderrLogger, type Logger } from '../domain/logger.js';
import type { PruneCursor, PruneStepOptions, PruneStepResult } from '../jobs/prune.js';

/** The slice of the store the pruner needs (`SqliteJobStore.pruneStep`). */
export interface PruneStore {
  pruneStep(opts: PruneStepOptions): PruneStepResult;
}

export interface PrunerOptions {
  /** How long finished jobs, their events and approvals are kept (ms); null keeps them all. */
  retentionMs: number | null;
  /** How long audit rows are kept (ms); null keeps them all. */
  auditRetentionMs: number | null;
  /** How often a prune runs; default 1 h (and once shortly after start). */
  everyMs?: number;
  /** The first run, this long after start; default 1 min (start-up has other work to do). */
  firstAfterMs?: number;
  /** Rows per step; default 250, at most 1,000. */
  stepRows?: number;
  logger?: Logger;
  now?: () => number;
}

export interface PruneTotals {
  jobs: number;
  events: number;
  approvals: number;
  audit: number;
  kept: number;
  steps: number;
}

/**
 * Retention on a timer: each run deletes what KVMOPS_RETENTION / KVMOPS_AUDIT_RETENTION let go,
 * in steps of 250 rows (at most 1,000; src/jobs/prune.ts: one short transaction each), and yields
 * to the event loop between steps — Discord's acknowledgements, heartbeats and claims run in
 * between, so a backlog of a million rows costs many short pauses, never a long one.
 *
 * A busy database (another process holds the write lock) ends the run; the next one goes on
 * where there is still something to delete. Retention `null` (`off`, `0`) keeps that kind.
 */
export class Pruner {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<PruneTotals> | null = null;
  private stopping = false;
  private readonly log: Logger;

  constructor(
    private readonly store: PruneStore,
    private readonly opts: PrunerOptions,
  ) {
    this.log = opts.logger ?? stderrLogger;
  }

  get enabled(): boolean {
    return this.opts.retentionMs !== null || this.opts.auditRetentionMs !== null;
  }

  start(): void {
    if (this.timer || !this.enabled) return;
    this.stopping = false;
    const every = this.opts.everyMs ?? 3_600_000;
    const schedule = (ms: number) => {
      this.timer = setTimeout(() => {
        void this.prune().finally(() => {
          if (!this.stopping) schedule(every);
        });
      }, ms);
      this.timer.unref();
    };
    schedule(this.opts.firstAfterMs ?? 60_000);
  }

  /** One run until nothing is left to delete (or the database is busy, or stop()). One at a time. */
  prune(): Promise<PruneTotals> {
    this.running ??= this.run().finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  private async run(): Promise<PruneTotals> {
    const totals: PruneTotals = { jobs: 0, events: 0, approvals: 0, audit: 0, kept: 0, steps: 0 };
    if (!this.enabled) return totals;
    const now = (this.opts.now ?? Date.now)();
    const finishedBefore = this.opts.retentionMs === null ? null : now - this.opts.retentionMs;
    const auditBefore = this.opts.auditRetentionMs === null ? null : now - this.opts.auditRetentionMs;
    let after: PruneCursor | undefined;
    try {
      while (!this.stopping) {
        const r = this.store.pruneStep({ finishedBefore, auditBefore, ...(this.opts.stepRows ? { limit: this.opts.stepRows } : {}), ...(after ? { after } : {}) });
        after = r.after;
        totals.steps++;
        totals.jobs += r.jobs;
        totals.events += r.events;
        totals.approvals += r.approvals;
        totals.audit += r.audit;
        totals.kept += r.kept;
        if (r.done) break;
        await yieldToLoop();
      }
    } catch (e) {
      if (isKvmopsError(e, 'db-busy')) this.log.warn({ err: e }, 'prune paused: the database is busy; the next run goes on');
      else this.log.error({ err: e }, 'prune failed');
    }
    if (totals.jobs + totals.audit > 0 || totals.kept > 0) this.log.info({ ...totals }, 'old history pruned');
    return totals;
  }
}
