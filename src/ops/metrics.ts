import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FINAL_STATES, JOB_STATES } from '../domain/job-states.js';
import { JOB_KINDS } from '../kinds/index.js';
import type { JobStats } from '../jobs/stats.js';
import type { Job, JobStore } from '../jobs/types.js';

/**
 * Prometheus metrics (prom-client). Each call of `createMetrics` makes its own Registry — never
 * prom-client's global one — so an app, and every test, owns exactly the metrics it created.
 *
 * Queue figures are read from the database at scrape time (`stats`), so they are right even
 * after a restart and whoever changed the rows; the duration histogram and the Discord error
 * counter are observed in this process as things happen, and start from zero at each start
 * (Prometheus' rate()/increase() handle that).
 *
 *   kvmops_jobs{state,kind}                       gauge: jobs in each state, every pair present
 *   kvmops_job_duration_seconds{kind,state}       histogram: started → finished, per final state
 *   kvmops_queue_depth                            gauge: queued jobs (incl. retries backing off)
 *   kvmops_queue_runnable                         gauge: queued jobs whose run_at has come
 *   kvmops_queue_oldest_age_seconds               gauge: age of the oldest queued job (0 if none)
 *   kvmops_jobs_running                           gauge
 *   kvmops_approvals_pending                      gauge
 *   kvmops_discord_rest_errors_total{status}      counter: failed Discord REST calls by HTTP status
 *   kvmops_stats_errors_total                     counter: scrapes whose database read failed
 *                                                 (the queue gauges are then NaN / absent)
 *   kvmops_host_up{host}                          gauge: 1 the host answered its last probe, 0 not
 *                                                 (absent before the first probe ended)
 *   kvmops_host_unreachable_seconds{host}         gauge: how long it has not answered (0 while up)
 *   kvmops_host_cpus{host}                        gauge
 *   kvmops_host_memory_bytes{host,kind}           gauge: kind = total | available
 *   kvmops_host_storage_bytes{host,kind}          gauge: the storage dir, kind = total | available
 *   kvmops_host_vms{host,state}                   gauge: state = running | defined (the inventory)
 *   kvmops_host_templates{host}                   gauge (the inventory)
 *   kvmops_host_jobs{host,state}                  gauge: state = queued | running
 *   kvmops_host_drained{host}                     gauge: 1 /deploy host:auto skips it
 *   process_* / nodejs_*                          prom-client's default metrics
 */

/** Seconds; kvmops jobs run from a fraction of a second (vm start) to many minutes (clone). */
export const JOB_DURATION_BUCKETS = [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export type FinishedJob = Pick<Job, 'id' | 'kind' | 'state' | 'startedAt' | 'finishedAt'>;

/**
 * One host's figures at scrape time: the probe's last look (never waited for: a scrape starts a
 * new probe in the background when the last one is old), the inventory's counts, the job table's.
 */
export interface HostFigures {
  host: string;
  /** null: no probe has ended yet. */
  up: boolean | null;
  unreachableSeconds: number;
  cpus: number | null;
  memory: { total: number; available: number } | null;
  storage: { total: number; available: number } | null;
  vms: { running: number; defined: number };
  templates: number;
  jobs: { queued: number; running: number };
  drained: boolean;
}

export interface MetricsOptions {
  /** Queue figures for the scrape (`() => jobStats(db)`). */
  stats: () => JobStats;
  /** prom-client's process/nodejs metrics; default true. */
  defaultMetrics?: boolean;
  /** Called when `stats` throws during a scrape (the scrape still answers; queue gauges NaN). */
  onStatsError?: (e: unknown) => void;
  /** Per-host figures (label `host`); omitted → no host gauges. Must not wait for a host. */
  hosts?: () => HostFigures[];
}

export interface OpsMetrics {
  readonly registry: Registry;
  /** `text/plain; version=0.0.4; charset=utf-8` */
  readonly contentType: string;
  /** The Prometheus text exposition. */
  render(): Promise<string>;
  /**
   * Records a finished job's duration. Idempotent per job (a final job reported twice, e.g. by
   * a later status-message update, counts once); ignores jobs that are not final or never ran.
   */
  observeJobFinished(job: FinishedJob): void;
  /** For the Discord adapter: a REST call failed with this HTTP status (or e.g. `network`). */
  discordRestError(status: number | string): void;
  /** Observes every job of this store that reaches a final state; returns the unsubscribe. */
  watch(store: Pick<JobStore, 'onChange'>): () => void;
}

/** How many finished job ids are remembered for idempotency (old ones are forgotten first). */
const SEEN_LIMIT = 10_000;

export function createMetrics(opts: MetricsOptions): OpsMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const statsErrors = new Counter({
    name: 'kvmops_stats_errors_total',
    help: 'Scrapes whose read of the job database failed',
    registers: [registry],
  });
  // One stats read per scrape, shared by every gauge's collect. A scrape calls all collects
  // synchronously, one after the other (Registry#metrics maps over the metrics before its first
  // await), so a snapshot dropped on the next turn of the event loop is never reused by the
  // following scrape, however soon it comes.
  let snapshot: { stats: JobStats | undefined } | undefined;
  const readStats = (): JobStats | undefined => {
    if (snapshot) return snapshot.stats;
    let stats: JobStats | undefined;
    try {
      stats = opts.stats();
    } catch (e) {
      statsErrors.inc();
      opts.onStatsError?.(e);
    }
    snapshot = { stats };
    setImmediate(() => (snapshot = undefined));
    return stats;
  };

  new Gauge({
    name: 'kvmops_jobs',
    help: 'Jobs in the database by state and kind',
    labelNames: ['state', 'kind'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const s = readStats();
      if (!s) return;
      // Every pair, zeros included: a series that appears only once non-zero breaks rate() and alerts.
      for (const state of JOB_STATES) for (const kind of JOB_KINDS) this.set({ state, kind }, 0);
      for (const c of s.counts) this.set({ state: c.state, kind: c.kind }, c.count);
    },
  });
  const simpleGauge = (name: string, help: string, pick: (s: JobStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const s = readStats();
        // Unknown is NaN, not 0: an empty queue and an unreadable database must not look alike.
        this.set(s ? pick(s) : Number.NaN);
      },
    });
  simpleGauge('kvmops_queue_depth', 'Jobs waiting in the queue (state queued, including retries backing off)', (s) => s.queued);
  simpleGauge('kvmops_queue_runnable', 'Queued jobs whose run_at has come', (s) => s.runnable);
  simpleGauge('kvmops_queue_oldest_age_seconds', 'Age of the oldest queued job, 0 when the queue is empty', (s) =>
    s.oldestQueuedAt === null ? 0 : Math.max(0, (Date.now() - s.oldestQueuedAt) / 1000),
  );
  simpleGauge('kvmops_jobs_running', 'Jobs running now', (s) => s.running);
  simpleGauge('kvmops_approvals_pending', 'Approvals waiting for a decision', (s) => s.approvalsPending);

  if (opts.hosts) hostGauges(registry, opts.hosts, (e) => {
    statsErrors.inc();
    opts.onStatsError?.(e);
  });

  const duration = new Histogram({
    name: 'kvmops_job_duration_seconds',
    help: 'Job run time, from start (claim) to finish, by kind and final state',
    labelNames: ['kind', 'state'] as const,
    buckets: JOB_DURATION_BUCKETS,
    registers: [registry],
  });
  const restErrors = new Counter({
    name: 'kvmops_discord_rest_errors_total',
    help: 'Discord REST calls that failed, by HTTP status',
    labelNames: ['status'] as const,
    registers: [registry],
  });

  const seen = new Set<number>();
  const observeJobFinished = (job: FinishedJob): void => {
    if (!FINAL_STATES.has(job.state) || job.startedAt === null || job.finishedAt === null) return;
    if (seen.has(job.id)) return;
    seen.add(job.id);
    if (seen.size > SEEN_LIMIT) {
      const oldest = seen.values().next().value;
      if (oldest !== undefined) seen.delete(oldest);
    }
    duration.observe({ kind: job.kind, state: job.state }, Math.max(0, job.finishedAt - job.startedAt) / 1000);
  };

  return {
    registry,
    contentType: registry.contentType,
    render: () => registry.metrics(),
    observeJobFinished,
    discordRestError: (status) => restErrors.inc({ status: String(status) }),
    watch: (store) =>
      store.onChange((job) => {
        if (FINAL_STATES.has(job.state)) observeJobFinished(job);
      }),
  };
}

/** The per-host gauges, all from one `figures()` call per scrape (shared like the job stats). */
function hostGauges(registry: Registry, figures: () => HostFigures[], onError: (e: unknown) => void): void {
  let snapshot: HostFigures[] | undefined;
  const read = (): HostFigures[] => {
    if (snapshot) return snapshot;
    try {
      snapshot = figures();
    } catch (e) {
      onError(e);
      snapshot = [];
    }
    setImmediate(() => (snapshot = undefined));
    return snapshot;
  };
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[], set: (g: Gauge<L>, f: HostFigures) => void) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const f of read()) set(this, f);
      },
    });
  gauge('kvmops_host_up', 'The host answered its last probe (1) or not (0); absent before the first probe ended', ['host'], (g, f) => {
    if (f.up !== null) g.set({ host: f.host }, f.up ? 1 : 0);
  });
  gauge('kvmops_host_unreachable_seconds', 'How long the host has not answered its probes (0 while it answers)', ['host'], (g, f) => g.set({ host: f.host }, f.unreachableSeconds));
  gauge('kvmops_host_cpus', 'CPUs of the host (nodeinfo)', ['host'], (g, f) => {
    if (f.cpus !== null) g.set({ host: f.host }, f.cpus);
  });
  gauge('kvmops_host_memory_bytes', 'Host memory: total, and available to new guests (free + buffers + cache)', ['host', 'kind'], (g, f) => {
    if (!f.memory) return;
    g.set({ host: f.host, kind: 'total' }, f.memory.total);
    g.set({ host: f.host, kind: 'available' }, f.memory.available);
  });
  gauge('kvmops_host_storage_bytes', "The storage dir's filesystem on the host: total and available", ['host', 'kind'], (g, f) => {
    if (!f.storage) return;
    g.set({ host: f.host, kind: 'total' }, f.storage.total);
    g.set({ host: f.host, kind: 'available' }, f.storage.available);
  });
  gauge('kvmops_host_vms', 'VMs on the host as the inventory knows them: running, and defined (all)', ['host', 'state'], (g, f) => {
    g.set({ host: f.host, state: 'running' }, f.vms.running);
    g.set({ host: f.host, state: 'defined' }, f.vms.defined);
  });
  gauge('kvmops_host_templates', 'Templates held on the host (the inventory)', ['host'], (g, f) => g.set({ host: f.host }, f.templates));
  gauge('kvmops_host_jobs', 'Live jobs on the host: queued and running', ['host', 'state'], (g, f) => {
    g.set({ host: f.host, state: 'queued' }, f.jobs.queued);
    g.set({ host: f.host, state: 'running' }, f.jobs.running);
  });
  gauge('kvmops_host_drained', '1: /deploy host:auto skips the host (KVMOPS_HOSTS ;drain or /host drain)', ['host'], (g, f) => g.set({ host: f.host }, f.drained ? 1 : 0));
}
