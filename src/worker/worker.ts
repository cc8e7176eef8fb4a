import { setTimeout as sleep } from 'node:timers/promises';
import { FINAL_STATES } from '../domain/job-states.js';
import { EXECUTORS, type Executor, type ExecutorContext, type ExecutorMap, type JobKind, type JobPayload } from '../kinds/index.js';
import type { InventoryChange } from '../kinds/kind.js';
import { isKvmopsError, KvmopsError, toKvmopsError } from '../domain/errors.js';
import type { Hypervisor } from '../hypervisor/types.js';
import { BUSY_BACKOFF, retryWhileBusy } from '../jobs/retry.js';
import { retryDelay } from '../jobs/backoff.js';
import type { Job, JobStore, Lease } from '../jobs/types.js';
import { LatencyWindow } from './latency.js';
import { stderrLogger, type Logger } from '../domain/logger.js';
import { workerOwnerId } from './owner-id.js';
import { ProgressWriter } from './progress-writer.js';

export interface WorkerOptions {
  store: JobStore;
  hypervisor: Hypervisor;
  /** Defaults to EXECUTORS; tests and the bench inject their own. */
  executors?: ExecutorMap;
  /** Lease owner id; default hostname:pid:random. */
  owner?: string;
  /** Jobs running at once in this worker. Default 4. */
  concurrency?: number;
  /** Running jobs per host (passed to claim, which counts every worker's jobs). Default 2. */
  hostConcurrency?: number;
  /** Lease length; a job whose holder stops heartbeating is reaped after this. Default 30 s. */
  leaseMs?: number;
  /** Default leaseMs / 3: two heartbeats may be lost before the lease expires. */
  heartbeatMs?: number;
  /** Default leaseMs / 2. */
  reapEveryMs?: number;
  /** Safety net behind the onChange wake-up (e.g. a job enqueued by another process). Default 5 s. */
  safetyPollMs?: number;
  /** Minimum interval between two progress writes of one job. Default 333 ms (≤ 3/s). */
  progressIntervalMs?: number;
  logger?: Logger;
  /**
   * Writes a succeeded job's inventory changes (src/inventory) inside its completion's
   * transaction. Absent (tests, the bench): the changes are dropped.
   */
  inventory?: (changes: readonly InventoryChange[], at: number) => void;
  /**
   * The inventory's candidates for "which domains might use these files on this host?" after a
   * fresh diff (src/app.ts wires the reconciler and the inventory). Given to executors as
   * `ExecutorContext.referrers`. Absent: destructive steps read the whole host.
   */
  referrers?: (host: string, files: readonly string[], ctx: { signal?: AbortSignal }) => Promise<{ domains: Array<{ uuid: string; name: string }> } | null>;
  /** Called right before an executor runs; `latencyMs` = now − max(createdAt, runAt). */
  onExecutorStart?: (job: Job, latencyMs: number) => void;
}

export interface StopOptions {
  /** How long running jobs may go on finishing before they are aborted. Default 30 s. */
  graceMs?: number;
  /** After the abort, how long to wait for executors to clean up before releasing anyway. Default 5 s. */
  abortWaitMs?: number;
}

/** Why a running job's signal fired; decides how the job is closed. */
/** How long a job whose program was stopped from outside waits for this process's own stop to begin. */
const STOP_SIGNAL_WAIT_MS = 500;

type AbortReason = 'cancel' | 'lease-lost' | 'shutdown';

interface RunningJob {
  job: Job;
  lease: Lease;
  controller: AbortController;
  reason: AbortReason | null;
  /** Released by stop() after the abort wait: the run must never touch the job again. */
  detached: boolean;
  /**
   * The executor is done and the run is writing its final state (retried while the database is
   * busy, heartbeating meanwhile): changes it causes itself are not a lost lease.
   */
  closing: boolean;
  heartbeat: ReturnType<typeof setInterval> | null;
  /** A heartbeat refused `db-busy`: tried again soon (backoff), not only at the next beat. */
  beatRetry: ReturnType<typeof setTimeout> | null;
  busyBeats: number;
  done: Promise<void>;
}

type Outcome = { ok: true; result: unknown; inventory: InventoryChange[] } | { ok: false; error: KvmopsError };

/**
 * Claims jobs and runs their executors. Runs inside the bot's process (SQLite has one writer).
 *
 * Wake-up: the store calls onChange after every commit, so an enqueue (or a job finishing and
 * freeing its lock key) triggers a claim in the same tick — no polling delay. Jobs backed off to
 * a later run_at get a timer; a slow safety poll covers changes made by other processes.
 *
 * Lease discipline: only the lease holder finishes a job. On `lease-lost` (the reaper gave the
 * job to someone else) the run aborts and never writes to the job again.
 *
 * Exactly once: once the executor has returned, its outcome is kept in memory and the final
 * write is retried (on timers, see retryWhileBusy) until it is durable — a database locked by
 * another process or full (`db-busy`) never turns finished work into a re-run. The heartbeat
 * goes on meanwhile, and this worker's reaper first renews its own leases, so it never takes
 * back a job this worker is still finishing; the store accepts the result even after another
 * process's reaper took the job back, as long as nobody claimed it since.
 */
export class Worker {
  readonly owner: string;
  /** enqueue → executor start, ms (Date.now resolution). */
  readonly latency = new LatencyWindow();

  private readonly store: JobStore;
  private readonly hypervisor: Hypervisor;
  private readonly executors: ExecutorMap;
  private readonly concurrency: number;
  private readonly hostConcurrency: number;
  private readonly leaseMs: number;
  private readonly heartbeatMs: number;
  private readonly reapEveryMs: number;
  private readonly safetyPollMs: number;
  private readonly progressIntervalMs: number;
  private readonly log: Logger;
  private readonly onExecutorStart: WorkerOptions['onExecutorStart'];
  private readonly inventory: WorkerOptions['inventory'];
  private readonly referrers: WorkerOptions['referrers'];

  /** Keyed by lease (`jobId/token`): after a reap this worker may claim a job again while the old run unwinds. */
  private readonly running = new Map<string, RunningJob>();
  private started = false;
  private stopping = false;
  private wakeScheduled = false;
  private unsubscribe: (() => void) | null = null;
  private timers: Array<ReturnType<typeof setInterval>> = [];
  /** Aborted at the end of stop(): final writes still waiting for the database give up. */
  private halt = new AbortController();
  /** A claim refused `db-busy`: the next try, on a timer; and how many were refused in a row. */
  private claimRetry: ReturnType<typeof setTimeout> | null = null;
  private claimBusy = 0;
  /** Known future run_at times of backed-off jobs, and the one timer armed for the earliest. */
  private readonly dueTimes = new Set<number>();
  private dueTimer: { at: number; handle: ReturnType<typeof setTimeout> } | null = null;

  constructor(opts: WorkerOptions) {
    this.store = opts.store;
    this.hypervisor = opts.hypervisor;
    this.executors = opts.executors ?? EXECUTORS;
    this.owner = opts.owner ?? workerOwnerId();
    this.concurrency = opts.concurrency ?? 4;
    this.hostConcurrency = opts.hostConcurrency ?? 2;
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.heartbeatMs = opts.heartbeatMs ?? Math.max(10, Math.floor(this.leaseMs / 3));
    this.reapEveryMs = opts.reapEveryMs ?? Math.max(10, Math.floor(this.leaseMs / 2));
    this.safetyPollMs = opts.safetyPollMs ?? 5_000;
    this.progressIntervalMs = opts.progressIntervalMs ?? 333;
    this.log = opts.logger ?? stderrLogger;
    this.onExecutorStart = opts.onExecutorStart;
    this.inventory = opts.inventory;
    this.referrers = opts.referrers;
    if (this.concurrency < 1 || this.hostConcurrency < 1) throw new KvmopsError('invalid-input', 'concurrency must be ≥ 1');
  }

  /** Jobs running now. */
  get runningCount(): number {
    return this.running.size;
  }

  runningJobIds(): number[] {
    return [...this.running.values()].map((r) => r.job.id);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    this.halt = new AbortController();
    this.unsubscribe = this.store.onChange((job) => this.onStoreChange(job));
    // Reap first: jobs a crashed predecessor held must be claimable before we look for work.
    this.reap();
    this.scanDueTimes();
    this.timers.push(setInterval(() => this.reap(), this.reapEveryMs));
    this.timers.push(
      setInterval(() => {
        this.scanDueTimes();
        this.wake();
      }, this.safetyPollMs),
    );
    for (const t of this.timers) t.unref();
    this.log.info({ owner: this.owner, concurrency: this.concurrency, hostConcurrency: this.hostConcurrency }, 'worker started');
    this.wake();
  }

  /**
   * Graceful stop (SIGTERM/SIGINT): claims nothing more; running jobs get `graceMs` to finish;
   * the rest are aborted and released (back to queued, not counted as a failure) so the next
   * start runs them again — as recovered jobs, whose executors check the real state first. A
   * job that fails once the stop began is released too (see finish). At most
   * graceMs + 2 × abortWaitMs, plus a final write still waiting for a busy database.
   */
  async stop(opts: StopOptions = {}): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    if (this.dueTimer) clearTimeout(this.dueTimer.handle);
    this.dueTimer = null;
    this.dueTimes.clear();
    if (this.claimRetry) clearTimeout(this.claimRetry);
    this.claimRetry = null;

    const abortWaitMs = opts.abortWaitMs ?? 5_000;
    await this.waitRunning(opts.graceMs ?? 30_000);
    if (this.running.size) {
      this.log.warn({ jobs: this.runningJobIds() }, 'grace period over: aborting running jobs');
      for (const r of this.running.values()) this.abort(r, 'shutdown');
      await this.waitRunning(abortWaitMs);
    }
    const leftovers = [...this.running.values()];
    const releases: Array<Promise<void>> = [];
    for (const r of leftovers.filter((l) => !l.closing)) {
      // The executor ignored its signal: give the job back anyway and forget it.
      r.detached = true;
      this.stopHeartbeat(r);
      this.running.delete(runKey(r.lease));
      releases.push(this.closeJob(r, () => this.store.release(r.lease), 'released (executor did not stop)', {}, abortWaitMs));
    }
    await Promise.all(releases);
    const closing = leftovers.filter((l) => l.closing);
    if (closing.length) {
      // Done, but the database never took the final write: give up. The next start reaps the
      // job and re-runs it as recovered; the executor's record makes that re-run a no-op.
      this.log.error({ jobs: closing.map((r) => r.job.id) }, 'stopping with final writes still waiting for the database');
    }
    this.halt.abort(new KvmopsError('shutting-down', 'the worker stopped'));
    await Promise.allSettled(closing.map((r) => r.done));
    this.started = false;
    this.log.info({ owner: this.owner }, 'worker stopped');
  }

  // --- waking and claiming -------------------------------------------------------------------

  private onStoreChange(job: Job): void {
    if (this.stopping) return;
    for (const mine of this.running.values()) {
      if (mine.job.id !== job.id || mine.closing || mine.detached) continue;
      if (job.state !== 'running' || job.leaseOwner !== this.owner || job.leaseToken !== mine.lease.token) {
        // Reaped (or claimed by someone else) while we run it: stop at once, not at the next beat.
        this.abort(mine, 'lease-lost');
      } else if (job.cancelRequested && !mine.reason) {
        // Cancel requested in this process: confirm with our lease now instead of at the next beat.
        queueMicrotask(() => this.beat(mine));
      }
    }
    if (job.state === 'queued') {
      if (job.runAt > Date.now()) this.addDueTime(job.runAt);
      else this.wake();
    } else if (FINAL_STATES.has(job.state)) {
      this.wake(); // a slot or a lock key may have been freed
    }
  }

  /** Claims in a microtask: after the caller's transaction, before any timer. Coalesces bursts. */
  private wake(): void {
    if (this.wakeScheduled || !this.started || this.stopping) return;
    this.wakeScheduled = true;
    queueMicrotask(() => {
      this.wakeScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const hosts = this.hypervisor.hostNames();
    while (!this.stopping && this.started && this.running.size < this.concurrency) {
      let claimed: { job: Job; lease: Lease } | undefined;
      try {
        claimed = this.store.claim(this.owner, this.leaseMs, { perHost: this.hostConcurrency, hosts });
        this.claimBusy = 0;
      } catch (e) {
        if (isKvmopsError(e, 'db-busy')) this.retryClaimSoon();
        else this.log.error({ err: e }, 'claim failed; retrying at the next wake-up');
        return;
      }
      if (!claimed) return;
      this.launch(claimed.job, claimed.lease);
    }
  }

  /** The database is busy: claim again after a short backoff instead of at the next poll. */
  private retryClaimSoon(): void {
    if (this.claimRetry || this.stopping) return;
    const delay = retryDelay(++this.claimBusy, BUSY_BACKOFF, Math.random);
    this.claimRetry = setTimeout(() => {
      this.claimRetry = null;
      this.wake();
    }, delay);
    this.claimRetry.unref();
  }

  private addDueTime(at: number): void {
    this.dueTimes.add(at);
    this.armDueTimer();
  }

  private armDueTimer(): void {
    if (this.stopping || this.dueTimes.size === 0) return;
    const at = Math.min(...this.dueTimes);
    if (this.dueTimer && this.dueTimer.at <= at) return;
    if (this.dueTimer) clearTimeout(this.dueTimer.handle);
    const handle = setTimeout(() => {
      this.dueTimer = null;
      const now = Date.now();
      for (const t of this.dueTimes) if (t <= now) this.dueTimes.delete(t);
      this.armDueTimer();
      this.wake();
    }, Math.max(0, at - Date.now()) + 1);
    handle.unref();
    this.dueTimer = { at, handle };
  }

  /** Future run_at times of queued jobs written before we started, or by another process. */
  private scanDueTimes(): void {
    try {
      const now = Date.now();
      for (const j of this.store.list({ state: 'queued', limit: 1000 })) if (j.runAt > now) this.dueTimes.add(j.runAt);
      this.armDueTimer();
    } catch (e) {
      this.log.warn({ err: e }, 'listing queued jobs failed');
    }
  }

  private reap(): void {
    // Our own leases first: a job this worker still runs or is still finishing (its final write
    // held up by a locked database) must not look expired to our own reaper. If the database
    // is still busy, the reap would fail as well: skip it until the next round.
    const renewed = [...this.running.values()].map((r) => this.beat(r));
    if (!renewed.every(Boolean)) return;
    try {
      const reaped = this.store.reap();
      if (reaped.length) {
        this.log.warn({ jobs: reaped.map((j) => ({ id: j.id, state: j.state })) }, 'reaped expired leases');
        this.wake();
      }
    } catch (e) {
      if (isKvmopsError(e, 'db-busy')) this.log.warn({ err: e.message }, 'reap skipped: the database is busy; next round');
      else this.log.error({ err: e }, 'reap failed');
    }
  }

  // --- running one job ----------------------------------------------------------------------

  private launch(job: Job, lease: Lease): void {
    const r: RunningJob = {
      job,
      lease,
      controller: new AbortController(),
      reason: null,
      detached: false,
      closing: false,
      heartbeat: null,
      beatRetry: null,
      busyBeats: 0,
      done: Promise.resolve(),
    };
    this.running.set(runKey(lease), r);
    r.done = this.run(r)
      .catch((e: unknown) => this.log.error({ err: e, jobId: job.id }, 'worker bug: run() threw'))
      .finally(() => {
        this.running.delete(runKey(lease));
        this.wake(); // a slot is free
      });
  }

  private async run(r: RunningJob): Promise<void> {
    const { job, lease } = r;
    const progress = new ProgressWriter((p) => {
      if (r.detached || r.reason === 'lease-lost') return true;
      try {
        this.store.progress(lease, p);
        return true;
      } catch (e) {
        // Busy: the writer keeps the step and tries again (a newer step replaces it).
        if (isKvmopsError(e, 'db-busy')) return false;
        this.onLeaseError(r, e, 'progress');
        return true;
      }
    }, this.progressIntervalMs);
    r.heartbeat = setInterval(() => this.beat(r), this.heartbeatMs);
    if (job.cancelRequested) this.abort(r, 'cancel');

    this.log.info({ jobId: job.id, kind: job.kind, attempt: job.attempts, recovered: job.recovered }, 'job started');
    let outcome: Outcome;
    // This attempt's inventory changes: written with its result, or not at all.
    const inventory: InventoryChange[] = [];
    try {
      // Checked by its kind's schema when claimed (src/jobs/claim.ts): the edge for stored payloads.
      const payload = job.payload as JobPayload<JobKind>;
      const ctx: ExecutorContext = {
        host: this.hypervisor.host(payload.host),
        hosts: this.hypervisor,
        signal: r.controller.signal,
        progress: (p) => progress.push(p),
        recovered: job.recovered || job.attempts > 1,
        job: { id: job.id, requestId: job.requestId, attempt: job.attempts },
        reportInventory: (...changes) => void inventory.push(...changes),
        ...(this.referrers ? { referrers: (files, o) => this.referrers!(payload.host, files, o) } : {}),
      };
      r.controller.signal.throwIfAborted();
      const latencyMs = Date.now() - Math.max(job.createdAt, job.runAt);
      this.latency.add(latencyMs);
      this.onExecutorStart?.(job, latencyMs);
      const executor = this.executors[job.kind] as Executor<JobKind>;
      outcome = { ok: true, result: await executor(payload, ctx), inventory };
    } catch (e) {
      outcome = { ok: false, error: this.abortError(r, e) };
    }

    if (r.detached || r.reason === 'lease-lost') {
      this.stopHeartbeat(r);
      progress.close();
      this.log.warn({ jobId: job.id, reason: r.detached ? 'released' : 'lease-lost' }, 'job ended without a lease: result dropped');
      return;
    }
    progress.flush();
    progress.close();
    r.closing = true;
    await this.finish(r, outcome);
  }

  /** Success wins over a late cancel: the work happened, so the job says so. */
  private async finish(r: RunningJob, outcome: Outcome): Promise<void> {
    const { lease } = r;
    // A program stopped by SIGTERM/SIGINT from outside (`shutting-down`): the signal that reached
    // the whole group reaches this process too, and its handler may run a moment after the
    // child's exit was seen. Give our own stop that moment, so the job is handed back, not retried.
    if (!outcome.ok && isKvmopsError(outcome.error, 'shutting-down') && !this.stopping) {
      for (let waited = 0; waited < STOP_SIGNAL_WAIT_MS && !this.stopping; waited += 25) await sleep(25);
    }
    if (outcome.ok) {
      const write = this.inventory;
      const changes = outcome.inventory;
      // The result and the job's inventory rows in ONE transaction: they never part.
      const along = write && changes.length ? (now: number) => write(changes, now) : undefined;
      const complete = (): Job => {
        try {
          return this.store.complete(lease, outcome.result ?? null, along);
        } catch (e) {
          // Busy: both are retried together. Lease lost: neither is ours to write. Anything else
          // is the inventory's own fault (a bug, a corrupt row): the result must not be held
          // hostage to it — a job that did its work would run again. Written alone, then; the
          // reconcile loop brings the inventory back to the truth.
          if (!along || isKvmopsError(e, 'db-busy') || isKvmopsError(e, 'lease-lost')) throw e;
          this.log.error({ err: e, jobId: r.job.id }, 'inventory rows could not be written: the result is written alone; the next reconcile catches up');
          return this.store.complete(lease, outcome.result ?? null);
        }
      };
      return this.closeJob(r, complete, 'job succeeded', changes.length ? { inventoryChanges: changes.length } : {});
    } else if (r.reason === 'cancel') {
      return this.closeJob(r, () => this.store.cancelRunning(lease, 'cancelled on request'), 'job cancelled');
    } else if (r.reason === 'shutdown') {
      return this.closeJob(r, () => this.store.release(lease), 'job released at shutdown');
    } else if (this.stopping) {
      // A failure while stopping may be the stop's own doing: SIGTERM/SIGINT sent to the whole
      // process group or cgroup (Ctrl-C in a terminal, systemd's KillMode=control-group) also
      // reaches the job's virsh / qemu-img. Handed back, not failed: the next start runs it
      // again as recovered, and a failure of its own shows there.
      const { code, message } = outcome.error;
      return this.closeJob(r, () => this.store.release(lease), 'job failed while stopping: released', { code, message });
    }
    const { code, message } = outcome.error;
    const retry = outcome.error.transient;
    return this.closeJob(r, () => this.store.fail(lease, { code, message }, { retry }), retry ? 'job failed (transient)' : 'job failed', {
      code,
      message,
    });
  }

  /**
   * Writes the job's final state, retrying while the database is busy — until it lands, or for
   * `maxWaitMs`, or until stop() gives up — with the heartbeat still running; stops it once done.
   */
  private async closeJob(r: RunningJob, write: () => Job, msg: string, extra: Record<string, unknown> = {}, maxWaitMs?: number): Promise<void> {
    try {
      const after = await retryWhileBusy(write, {
        signal: this.halt.signal,
        ...(maxWaitMs !== undefined ? { maxWaitMs } : {}),
        onRetry: (e, retry) => {
          if (retry === 1) this.log.warn({ jobId: r.job.id, err: e.message }, `database busy: "${msg}" not written yet; retrying until it is`);
        },
      });
      this.log.info({ jobId: r.job.id, state: after.state, ...extra }, msg);
    } catch (e) {
      if (isKvmopsError(e, 'lease-lost')) this.log.warn({ jobId: r.job.id }, `lease lost before "${msg}" could be written`);
      else this.log.error({ err: e, jobId: r.job.id }, `could not write "${msg}"`);
    } finally {
      this.stopHeartbeat(r);
    }
  }

  private stopHeartbeat(r: RunningJob): void {
    if (r.heartbeat) clearInterval(r.heartbeat);
    r.heartbeat = null;
    if (r.beatRetry) clearTimeout(r.beatRetry);
    r.beatRetry = null;
  }

  /** The error an aborted executor threw says "aborted"; keep our reason's code instead. */
  private abortError(r: RunningJob, e: unknown): KvmopsError {
    const err = toKvmopsError(e);
    if (r.reason && !(e instanceof KvmopsError)) {
      const reason = r.controller.signal.reason;
      if (reason instanceof KvmopsError) return reason;
    }
    return err;
  }

  /**
   * Renews the lease; false when the database was busy — the lease may be running out, so the
   * beat is tried again after a short backoff rather than only at the next interval.
   */
  private beat(r: RunningJob): boolean {
    if (r.detached || r.reason === 'lease-lost') return true;
    try {
      const { cancelRequested } = this.store.heartbeat(r.lease, this.leaseMs);
      r.busyBeats = 0;
      if (cancelRequested && !r.closing) this.abort(r, 'cancel');
      return true;
    } catch (e) {
      if (!isKvmopsError(e, 'db-busy')) {
        this.onLeaseError(r, e, 'heartbeat');
        return true;
      }
      if (++r.busyBeats === 1) this.log.warn({ jobId: r.job.id, err: e.message }, 'heartbeat: database busy; retrying');
      if (!r.beatRetry && r.heartbeat) {
        r.beatRetry = setTimeout(() => {
          r.beatRetry = null;
          this.beat(r);
        }, retryDelay(r.busyBeats, BUSY_BACKOFF, Math.random));
        r.beatRetry.unref();
      }
      return false;
    }
  }

  private onLeaseError(r: RunningJob, e: unknown, what: string): void {
    if (isKvmopsError(e, 'lease-lost')) {
      this.log.warn({ jobId: r.job.id }, `${what}: lease lost; aborting the executor`);
      this.abort(r, 'lease-lost');
    } else {
      // A SQLite hiccup: keep running; the next heartbeat tries again before the lease ends.
      this.log.warn({ err: e, jobId: r.job.id }, `${what} failed`);
    }
  }

  private abort(r: RunningJob, reason: AbortReason): void {
    // lease-lost overrides anything: after it the job must not be written to at all.
    if (r.reason && reason !== 'lease-lost') return;
    if (r.reason === 'lease-lost') return;
    r.reason = reason;
    if (reason === 'lease-lost') this.stopHeartbeat(r);
    const err =
      reason === 'cancel'
        ? new KvmopsError('aborted', 'cancelled on request')
        : reason === 'lease-lost'
          ? new KvmopsError('lease-lost', 'the job was taken back by the reaper')
          : new KvmopsError('shutting-down', 'the worker is shutting down');
    if (!r.controller.signal.aborted) r.controller.abort(err);
  }

  private async waitRunning(ms: number): Promise<void> {
    if (this.running.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.running.values()].map((r) => r.done)),
      new Promise<void>((res) => (timer = setTimeout(res, ms))),
    ]);
    clearTimeout(timer);
  }
}

function runKey(lease: Lease): string {
  return `${lease.jobId}/${lease.token}`;
}
