import { KvmopsError } from '../domain/errors.js';
import { SqliteApprovals } from './approvals.js';
import { SqliteAudit } from './audit.js';
import { cancelRunningOp, requestCancelOp } from './cancel.js';
import { claimOp, type ClaimLimits } from './claim.js';
import { completeOp } from './complete.js';
import { createContext, type ContextOptions, type StoreContext } from './context.js';
import { reportingBusy } from './busy.js';
import { openDatabase, type Database } from './db.js';
import { enqueueOp } from './enqueue.js';
import { enqueueBatchOp, enqueueIntoBatchOp } from './enqueue-batch.js';
import { batchOp } from './batch.js';
import { failOp } from './fail.js';
import { heartbeatOp } from './heartbeat.js';
import { setHostDrainOp } from './host-drain.js';
import { hostJobCountsOp } from './host-jobs.js';
import { hostStatesOp } from './host-states.js';
import { addKeyOp } from './key-add.js';
import { listKeysOp } from './key-list.js';
import { removeKeyOp } from './key-remove.js';
import { countOp, listOp, type ListCount } from './list.js';
import { SqliteOutbox } from './outbox.js';
import { progressOp } from './progress.js';
import { pruneOp, type PruneStepOptions, type PruneStepResult } from './prune.js';
import { reapOp } from './reap.js';
import { releaseOp } from './release.js';
import { rowToJob, type JobRow } from './rows.js';
import { attachRunBatchOp } from './schedule-run-batch.js';
import { claimScheduleOp } from './schedule-claim.js';
import { createScheduleOp } from './schedule-create.js';
import { deleteScheduleOp } from './schedule-delete.js';
import { dueSchedulesOp } from './schedule-due.js';
import { forgetMadeOp } from './schedule-forget.js';
import { getScheduleOp } from './schedule-get.js';
import { listSchedulesOp } from './schedule-list.js';
import { madeSnapshotsOp } from './schedule-made.js';
import { retainRunOp } from './schedule-retain.js';
import { openRunsOp } from './schedule-runs.js';
import type {
  CancelOutcome,
  EnqueueRequest,
  Job,
  JobFilter,
  JobProgress,
  JobStore,
  Lease,
  HostStates,
  Requester,
  Schedules,
  SshKeys,
} from './types.js';

export interface StoreOptions extends ContextOptions {
  /** A change listener threw (it must not undo a committed change). Default: console.error. */
  onListenerError?: (error: unknown, job: Job) => void;
}

/**
 * The job queue on SQLite: composes the one-verb-per-file operations, and calls change listeners
 * after each commit (never inside a transaction: a listener then sees committed data, and a
 * failing listener cannot roll a change back).
 */
export class SqliteJobStore implements JobStore {
  readonly approvals: SqliteApprovals;
  readonly outbox: SqliteOutbox;
  readonly audit: SqliteAudit;
  /** People's SSH public keys (`/key`): add, list, remove. */
  readonly keys: SshKeys;
  /** Scheduled snapshots (`/schedule`, src/chat/scheduler.ts): the schedules, their open runs, what they made. */
  readonly schedules: Schedules;
  /** Hosts drained through chat, and live jobs per host (`/host`). */
  readonly hosts: HostStates;

  readonly #ctx: StoreContext;
  readonly #listeners = new Set<(job: Job) => void>();
  readonly #onListenerError: (error: unknown, job: Job) => void;
  readonly #ops;
  readonly #get;
  readonly #list;
  readonly #count;
  readonly #batch;
  readonly #setStatusMessage;

  constructor(
    readonly db: Database,
    opts: StoreOptions = {},
  ) {
    const ctx = createContext(db, opts);
    this.#ctx = ctx;
    this.#onListenerError = opts.onListenerError ?? ((e, job) => console.error(`kvmops: a change listener failed on job ${job.id}`, e));
    this.#ops = {
      enqueue: enqueueOp(ctx),
      enqueueBatch: enqueueBatchOp(ctx),
      enqueueIntoBatch: enqueueIntoBatchOp(ctx),
      claim: claimOp(ctx),
      heartbeat: heartbeatOp(ctx),
      progress: progressOp(ctx),
      complete: completeOp(ctx),
      fail: failOp(ctx),
      release: releaseOp(ctx),
      cancelRunning: cancelRunningOp(ctx),
      requestCancel: requestCancelOp(ctx),
      reap: reapOp(ctx),
      prune: pruneOp(ctx),
    };
    this.#get = db.prepare<[number], JobRow>('SELECT * FROM jobs WHERE id = ?');
    this.#list = listOp(db);
    this.#count = countOp(db);
    this.#batch = batchOp(db);
    this.#setStatusMessage = db.prepare(
      'UPDATE jobs SET status_message_id = @messageId, updated_at = @now WHERE id = @jobId RETURNING *',
    );
    this.approvals = new SqliteApprovals(ctx, (job) => this.#changed(job));
    this.outbox = new SqliteOutbox(ctx);
    this.audit = new SqliteAudit(ctx);
    const list = listKeysOp(db);
    this.keys = { add: addKeyOp(ctx), list, remove: removeKeyOp(ctx) };
    const attach = attachRunBatchOp(ctx);
    this.schedules = {
      create: createScheduleOp(ctx),
      get: getScheduleOp(db),
      list: listSchedulesOp(db),
      delete: deleteScheduleOp(ctx),
      due: dueSchedulesOp(db),
      claim: claimScheduleOp(ctx),
      enqueueRun: (runId, reqs, note) => this.#ops.enqueueBatch(reqs, (jobs) => attach(runId, jobs[0]!.id, note)).map((job) => this.#changed(job)),
      attachBatch: attach,
      openRuns: openRunsOp(db),
      retain: retainRunOp(ctx),
      made: madeSnapshotsOp(db),
      forget: forgetMadeOp(ctx),
    };
    this.hosts = { setDrain: setHostDrainOp(ctx), list: hostStatesOp(db), jobCounts: hostJobCountsOp(db) };
  }

  enqueue(req: EnqueueRequest): Job {
    return this.#changed(this.#ops.enqueue(req));
  }

  enqueueBatch(reqs: EnqueueRequest[]): Job[] {
    return this.#ops.enqueueBatch(reqs).map((job) => this.#changed(job));
  }

  /** One more job for an existing batch (enqueue-batch.ts `enqueueIntoBatchOp`). */
  enqueueIntoBatch(batchId: number, req: EnqueueRequest): Job {
    return this.#changed(this.#ops.enqueueIntoBatch(batchId, req));
  }

  batch(batchId: number): Job[] {
    return this.#batch(batchId);
  }

  get(id: number): Job | undefined {
    const row = this.#get.get(id);
    return row && rowToJob(row);
  }

  /** Newest first; default limit 50. */
  list(filter: JobFilter = {}): Job[] {
    return this.#list(filter);
  }

  /** How many jobs `list(filter)` would page through: exact up to 10,000, then `capped`. */
  count(filter: Omit<JobFilter, 'limit' | 'offset'> = {}): ListCount {
    return this.#count(filter);
  }

  claim(owner: string, leaseMs: number, limits?: ClaimLimits): { job: Job; lease: Lease } | undefined {
    const { claimed, invalid } = this.#ops.claim(owner, leaseMs, limits);
    invalid.forEach((job) => this.#changed(job));
    if (claimed) this.#changed(claimed.job);
    return claimed;
  }

  heartbeat(lease: Lease, leaseMs: number): { cancelRequested: boolean } {
    return this.#ops.heartbeat(lease, leaseMs);
  }

  progress(lease: Lease, p: JobProgress): void {
    this.#changed(this.#ops.progress(lease, p));
  }

  complete(lease: Lease, result: unknown, along?: (now: number) => void): Job {
    return this.#changed(this.#ops.complete(lease, result, along));
  }

  fail(lease: Lease, error: { code: string; message: string }, opts: { retry: boolean }): Job {
    return this.#changed(this.#ops.fail(lease, error, opts));
  }

  release(lease: Lease): Job {
    return this.#changed(this.#ops.release(lease));
  }

  cancelRunning(lease: Lease, message: string): Job {
    return this.#changed(this.#ops.cancelRunning(lease, message));
  }

  requestCancel(id: number, by: Requester): CancelOutcome {
    const { changed, others, ...outcome } = this.#ops.requestCancel(id, by);
    if (changed) this.#changed(outcome.job);
    others.forEach((job) => this.#changed(job));
    return outcome;
  }

  reap(now?: number): Job[] {
    const jobs = this.#ops.reap(now);
    jobs.forEach((job) => this.#changed(job));
    return jobs;
  }

  /** The store's clock (epoch ms): what it writes into created_at, finished_at … */
  now(): number {
    return this.#ctx.now();
  }

  /**
   * One retention step (prune.ts): at most 1,000 rows of old history deleted in one short
   * transaction. Writes no event and calls no listener (a pruned job changed no state). Throws
   * `db-busy` when the database is locked or full (nothing deleted; the next step tries again).
   */
  pruneStep(opts: PruneStepOptions): PruneStepResult {
    return this.#ops.prune(opts);
  }

  setStatusMessage(jobId: number, messageId: string): void {
    const row = reportingBusy(() => this.#setStatusMessage.get({ jobId, messageId, now: this.#ctx.now() })) as JobRow | undefined;
    if (!row) throw new KvmopsError('job-not-found', `no job ${jobId}`, { details: { jobId } });
    this.#changed(rowToJob(row));
  }

  onChange(listener: (job: Job) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.db.close();
  }

  #changed(job: Job): Job {
    for (const listener of this.#listeners) {
      try {
        listener(job);
      } catch (e) {
        this.#onListenerError(e, job);
      }
    }
    return job;
  }
}

/** Opens (and migrates) the database file and returns its store. */
export function openJobStore(file: string, opts: StoreOptions = {}): SqliteJobStore {
  return new SqliteJobStore(openDatabase(file), opts);
}
