import { KvmopsError, isKvmopsError } from '../domain/errors.js';
import type { Logger } from '../domain/logger.js';
import type { EnqueueRequest, Job, MadeSnapshot, Schedule, ScheduleRun } from '../jobs/types.js';
import { isGlob } from '../domain/name-filter.js';
import { pinVm, requireVm } from './command-kit.js';
import type { SchedulesPort, Services } from './services.js';
import { matchVms } from './vm-pattern.js';

/**
 * Scheduled snapshots (issue 25; docs/commands.md "/schedule"). A timer in the bot, like the
 * pruner and the approval sweeper; every tick:
 *
 * 1. **Due runs.** Each schedule whose `next_run_at` has come is claimed by ONE compare-and-set
 *    UPDATE (src/jobs/schedule-claim.ts): two bots on one database both see it due, one claims
 *    it. The claim moves `next_run_at` on — after downtime to a period from now, so missed
 *    periods become ONE run at start-up, not one each. The run then snapshots the VMs that match
 *    the pattern *at that moment* (a VM added since the last run is included), each pinned as a
 *    `/snapshot create` would be, as ONE ordinary batch (visible in /job list) named
 *    `auto-<schedule id>-<UTC yyyymmdd-hhmm>` — the batch and its record on the run written in
 *    one transaction (schedules.enqueueRun) — requested by the schedule's creator, posted where
 *    the schedule was made, and *quiet*: a run that succeeds only edits its status message; one
 *    that fails mentions the creator.
 * 2. **Retention.** Once every job of a run's batch has ended, its retention is claimed (again
 *    compare-and-set: the run's row is deleted) together with the record of what the run made:
 *    the snapshots of its succeeded jobs, by VM uuid, name and libvirt's creation time. Then,
 *    per VM the run touched, what the schedule made beyond `keep` — oldest first — is deleted by
 *    ordinary `snapshot.delete` jobs joining the run's batch (one status message per run). Only
 *    a snapshot that this schedule recorded, that still has its `auto-<id>-` name and its
 *    recorded creation time, is ever a candidate: a hand-made `auto-3-…` is never recorded, so
 *    never deleted. One that a live job names (a revert waiting for approval, say) or whose
 *    children need it (external) is kept; and the delete asks the host to keep, not fail, a
 *    snapshot something still needs (`keepIfNeeded`, src/kinds/snapshot-delete.ts) — retention
 *    is never a reason for a loud failure. A retention lost to a crash is made up by the next
 *    run's, which counts every record again.
 *
 * The clock is injected (`now`): tests drive it without sleeping, and snapshot names are
 * drawn from it.
 */

/** The tick's period: a run starts at most this long after it is due. */
export const DEFAULT_TICK_MS = 15_000;
/** Schedules claimed per tick, open runs looked at per tick (the rest wait for the next one). */
const DUE_PER_TICK = 20;
const RUNS_PER_TICK = 50;
/** Live jobs read to know which snapshots they need: far more than a host runs at once. */
const LIVE_READ = 500;
/**
 * A run with no batch this long after its claim was left by a crash between claim and enqueue
 * (a run that matched nothing says so at once): its row goes, nothing else.
 */
const ORPHAN_RUN_MS = 10 * 60_000;

/** `auto-<id>-<yyyymmdd-hhmm>` of the run claimed at `at` (UTC). */
export function autoSnapshotName(scheduleId: number, at: number): string {
  const iso = new Date(at).toISOString(); // 2026-12-08T01:02:03.000Z
  return `${autoPrefix(scheduleId)}${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}`;
}

/** The names one schedule gives its snapshots start with this. */
export const autoPrefix = (scheduleId: number): string => `auto-${scheduleId}-`;

export interface SchedulerOptions {
  services: Services;
  /** The scheduler's clock (epoch ms); default the services' clock. */
  now?: () => number;
  /** Default DEFAULT_TICK_MS. */
  tickMs?: number;
  /** The first tick, this long after start (the catch-up of runs missed while down); default 2 s. */
  firstAfterMs?: number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

export interface TickResult {
  /** Runs this tick claimed, with the batch each made (null: nothing matched or nothing could be queued). */
  runs: Array<{ scheduleId: number; runId: number; name: string; batchId: number | null; note: string }>;
  /** Runs whose retention this tick did, with the delete jobs it queued. */
  retained: Array<{ scheduleId: number; runId: number; deletes: number[] }>;
}

export class Scheduler {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running: Promise<TickResult> | null = null;
  private stopping = false;
  private readonly services: Services;
  private readonly schedules: SchedulesPort;
  private readonly now: () => number;
  private readonly log: Pick<Logger, 'info' | 'warn' | 'error'> | undefined;

  constructor(private readonly opts: SchedulerOptions) {
    this.services = opts.services;
    if (!opts.services.schedules) throw new KvmopsError('internal', 'the scheduler needs services.schedules');
    this.schedules = opts.services.schedules;
    this.now = opts.now ?? (() => opts.services.now());
    this.log = opts.logger;
  }

  start(): void {
    if (this.timer) return;
    this.stopping = false;
    const every = this.opts.tickMs ?? DEFAULT_TICK_MS;
    const next = (ms: number) => {
      this.timer = setTimeout(() => {
        void this.tick()
          .catch((e: unknown) => this.log?.error({ err: e }, 'schedule tick failed'))
          .finally(() => {
            if (!this.stopping) next(every);
          });
      }, ms);
      this.timer.unref();
    };
    next(this.opts.firstAfterMs ?? 2_000);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One pass: the due runs, then the retention of runs whose batch ended. One at a time (a second call shares it). */
  tick(): Promise<TickResult> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<TickResult> {
    const result: TickResult = { runs: [], retained: [] };
    const now = this.now();
    for (const s of await this.schedules.due(now, DUE_PER_TICK)) {
      if (this.stopping) break;
      const run = await this.schedules.claim(s.id, s.nextRunAt, now);
      if (!run) continue; // another bot took it, or it was deleted
      result.runs.push({ scheduleId: s.id, runId: run.id, ...(await this.runOnce(s, run)) });
    }
    for (const run of await this.schedules.openRuns(RUNS_PER_TICK)) {
      if (this.stopping) break;
      const deletes = await this.retain(run);
      if (deletes) result.retained.push({ scheduleId: run.scheduleId, runId: run.id, deletes });
    }
    return result;
  }

  /** The run's snapshots: the VMs matching now, one quiet batch. */
  private async runOnce(s: Schedule, run: ScheduleRun): Promise<{ name: string; batchId: number | null; note: string }> {
    const name = autoSnapshotName(s.id, run.at);
    const nothing = async (note: string) => {
      await this.schedules.attachBatch(run.id, null, note);
      // No batch: nothing to wait for, and nothing made — the run's row goes now.
      await this.schedules.retain({ ...run, batchId: null }, []);
      return { name, batchId: null, note };
    };
    let vms: string[];
    try {
      // A name is that VM alone (a list filter's substring rule is not a target's); a pattern, every VM it matches now.
      vms = !isGlob(s.pattern) ? [(await requireVm(this.services, s.host, s.pattern)).name] : await matchVms(this.services, s.host, s.pattern);
    } catch (e) {
      // Nothing matched, too many, the host unknown or unreachable now: this period makes no
      // snapshot (said in /schedule list and the log); the next period tries again.
      if (!(e instanceof KvmopsError)) throw e;
      this.log?.warn({ scheduleId: s.id, err: e.message }, 'schedule run: no VM to snapshot');
      return nothing(e.code === 'vm-not-found' ? `no VM matched ${s.pattern}` : `${e.code}: ${e.message}`);
    }
    const reqs: EnqueueRequest[] = [];
    const skipped: string[] = [];
    for (const vm of vms) {
      try {
        const { vmUuid } = await pinVm(this.services, s.host, vm);
        reqs.push(this.request(s, 'snapshot.create', { host: s.host, vm, vmUuid, name, kind: s.kind, description: `kvmops schedule #${s.id}` }));
      } catch (e) {
        // A VM gone between the match and its pin is not this run's business; the host gone
        // unreachable meanwhile is this period's (as above).
        if (!(e instanceof KvmopsError)) throw e;
        if (e.code !== 'vm-not-found') return nothing(`${e.code}: ${e.message}`);
        skipped.push(vm);
      }
    }
    if (reqs.length === 0) return nothing(`no VM matched ${s.pattern}`);
    let jobs: Job[];
    const note = `${reqs.length} VM${reqs.length === 1 ? '' : 's'}${skipped.length ? ` (${skipped.length} gone before their turn)` : ''}`;
    try {
      jobs = await this.schedules.enqueueRun(run.id, reqs, note);
    } catch (e) {
      if (!(e instanceof KvmopsError)) throw e;
      this.log?.error({ scheduleId: s.id, err: e }, 'schedule run: its batch was refused');
      return nothing(`refused: ${e.code}: ${e.message}`);
    }
    const batchId = jobs[0]!.id;
    this.log?.info({ scheduleId: s.id, batchId, vms: jobs.length, name }, 'schedule run queued');
    return { name, batchId, note };
  }

  /** The job requests of a run: the creator's, where the schedule was made, quiet on success. */
  private request(s: Schedule, kind: 'snapshot.create' | 'snapshot.delete', payload: Record<string, unknown>): EnqueueRequest {
    return { kind, payload, requester: s.creator, notify: s.notify, quiet: true };
  }

  /** The run's retention, once its batch ended: the delete jobs queued, or undefined when it is not (yet) this caller's. */
  private async retain(run: ScheduleRun): Promise<number[] | undefined> {
    if (run.batchId === null) {
      if (this.now() - run.at < ORPHAN_RUN_MS) return undefined; // its batch is being queued
      return (await this.schedules.retain(run, [])) ? [] : undefined;
    }
    const jobs = await this.services.jobs.batch(run.batchId);
    if (jobs.some((j) => j.finishedAt === null)) return undefined;
    const creates = jobs.filter((j) => j.kind === 'snapshot.create');
    if (!(await this.schedules.retain(run, creates.flatMap(madeBy)))) return undefined;
    const s = await this.schedules.get(run.scheduleId);
    if (!s || jobs.length === 0) return [];
    const needed = await this.neededSnapshots();
    const deletes: number[] = [];
    const vms = new Map<string, string>();
    for (const j of creates) if (typeof j.payload.vmUuid === 'string') vms.set(j.payload.vmUuid, String(j.payload.vm));
    for (const [vmUuid, vm] of vms) {
      try {
        deletes.push(...(await this.prune(s, run.batchId, vmUuid, vm, needed)));
      } catch (e) {
        // This VM's excess waits for the next run's retention.
        this.log?.warn({ scheduleId: s.id, vm, err: e instanceof Error ? e.message : String(e) }, 'schedule retention: a VM was left for the next run');
      }
    }
    return deletes;
  }

  /**
   * What the schedule made on one VM beyond `keep`, oldest first, as delete jobs in the run's
   * batch. The records are checked against the host first (one fresh read of this VM's
   * snapshots): a record whose snapshot is gone, or is another now (its creation time differs),
   * is dropped and does not count.
   */
  private async prune(s: Schedule, batchId: number, vmUuid: string, vm: string, needed: Set<string>): Promise<number[]> {
    const records = await this.schedules.made(s.id, s.host, vmUuid);
    if (records.length <= s.keep) return [];
    const current = await this.services.catalog.snapshots(s.host, vm, { fresh: true });
    const existing: Array<{ record: MadeSnapshot; files: string[]; kind: string }> = [];
    for (const record of records) {
      const snap = current.find((c) => c.name === record.name);
      if (!record.name.startsWith(autoPrefix(s.id)) || !snap || snap.createdAt !== record.createdAt) {
        await this.schedules.forget(s.id, s.host, vmUuid, record.name);
      } else {
        existing.push({ record, files: snap.files, kind: snap.kind });
      }
    }
    const deletes: number[] = [];
    for (const { record, files, kind } of existing.slice(s.keep).reverse()) {
      if (needed.has(snapshotKey(s.host, vmUuid, record.name))) continue; // a live job names it
      if (kind === 'external' && current.some((c) => c.parent === record.name)) continue; // its children need it
      const payload = { host: s.host, vm, vmUuid, name: record.name, snapshot: { createdAt: record.createdAt, files }, keepIfNeeded: true };
      try {
        deletes.push((await this.services.jobs.enqueueIntoBatch(batchId, this.request(s, 'snapshot.delete', payload))).id);
      } catch (e) {
        if (isKvmopsError(e, 'duplicate-job')) continue; // an earlier run's delete of it is still live
        throw e;
      }
    }
    return deletes;
  }

  /** The snapshots live jobs name (a revert waiting for approval, a delete queued …): retention keeps them. */
  private async neededSnapshots(): Promise<Set<string>> {
    const needed = new Set<string>();
    for (const state of ['awaiting_approval', 'queued', 'running'] as const) {
      for (const j of await this.services.jobs.list({ state, limit: LIVE_READ })) {
        const p = j.payload;
        if (j.kind.startsWith('snapshot.') && typeof p.vmUuid === 'string' && typeof p.name === 'string') needed.add(snapshotKey(String(p.host), p.vmUuid, p.name));
      }
    }
    return needed;
  }
}

const snapshotKey = (host: string, vmUuid: string, name: string) => `${host}\0${vmUuid}\0${name}`;

/** The snapshot a succeeded `snapshot.create` job of a run made (none for any other outcome). */
function madeBy(j: Job): MadeSnapshot[] {
  if (j.state !== 'succeeded') return [];
  const p = j.payload;
  const snap = (j.result as { snapshot?: { createdAt?: unknown } } | null)?.snapshot;
  if (typeof p.vmUuid !== 'string' || typeof p.name !== 'string' || typeof snap?.createdAt !== 'number') return [];
  return [{ host: String(p.host), vmUuid: p.vmUuid, vm: String(p.vm), name: p.name, createdAt: snap.createdAt, jobId: j.id }];
}
