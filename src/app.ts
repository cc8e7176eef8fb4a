import { COMMAND_MODULES, loadCommands } from '../commands/index.js';
import type { Env } from './config/env.js';
import type { ChatCore } from './chat/adapter-port.js';
import { CommandRouter } from './chat/router.js';
import { createServices, type InventoryPort, type Services } from './chat/services.js';
import { RolePolicy } from './chat/roles.js';
import { Scheduler } from './chat/scheduler.js';
import { profilesPort, type Profiles } from './config/profiles.js';
import type { TeamKeys } from './config/team-keys.js';
import { KvmopsError } from './domain/errors.js';
import { createHypervisor } from './hypervisor/index.js';
import { HostProbe } from './hypervisor/probe.js';
import type { HostConfig } from './config/env.js';
import type { HostsPort } from './chat/hosts-port.js';
import type { Hypervisor } from './hypervisor/types.js';
import { openJobStore, type SqliteJobStore } from './jobs/store.js';
import { Reconciler } from './inventory/reconcile.js';
import { inventoryReferrers } from './inventory/referrers.js';
import { InventoryStore } from './inventory/store.js';
import { Notifier } from './notifier/notifier.js';
import type { NotificationSink } from './notifier/types.js';
import { startOps, type Ops, type DiscordStatus, type HostFigures, type HostHealth } from './ops/index.js';
import { createLogger, type AppLogger } from './ops/logger.js';
import { ApprovalSweeper } from './worker/approval-sweeper.js';
import { Pruner } from './worker/pruner.js';
import { Worker } from './worker/worker.js';

/**
 * The composition root: one process runs the chat adapter(s), the worker, the notifier, the
 * approval sweeper, the scheduler and the retention pruner over one SQLite store (SQLite has one writer; docs/architecture.md). Every entry
 * point (bot, shell, demo, tests) builds the same `App`, so they behave alike.
 *
 * Order matters: the core (store, hypervisor, services, router) exists first so an adapter can
 * be built on it; the notifier starts only once the adapters gave their sinks.
 *
 * This file stands above the adapters (src/adapters/*): they are given the `ChatCore` part of
 * an `AppCore` and never import this file or the store; entry points (main, shell, demo,
 * register) import both and wire them.
 */

export interface AppCore extends ChatCore {
  env: Env;
  logger: AppLogger;
  store: SqliteJobStore;
  hypervisor: Hypervisor;
  /** What kvmops knows of its hosts, on the store's database (src/inventory). */
  inventory: InventoryStore;
  /** Keeps `inventory` true from the hosts; started by startApp. */
  reconciler: Reconciler;
  /** The hosts' live facts, cached and bounded (`/host`, placement, /healthz, /metrics). */
  probe: HostProbe;
  services: Services;
  router: CommandRouter;
  roles: RolePolicy;
}

export interface App extends AppCore {
  worker: Worker;
  notifier: Notifier;
  /** Scheduled snapshots (`/schedule`): its timer runs the due schedules; `tick()` runs one pass now. */
  scheduler: Scheduler;
  ops: Ops;
  /**
   * Stops taking work, lets running jobs finish within `graceMs`, aborts and hands back the
   * rest (their executors get `abortWaitMs` to unwind, and the hand-back as long again to be
   * written), flushes the notifier, closes the database.
   */
  stop(opts?: { graceMs?: number; abortWaitMs?: number }): Promise<void>;
}

export interface StopBudget {
  /** Running jobs may finish in this. */
  graceMs: number;
  /** After the abort: for executors (and the programs they run) to unwind; again for the hand-back write. */
  abortWaitMs: number;
}

/**
 * How a stop of `timeoutMs` (KVMOPS_STOP_TIMEOUT) is spent: the grace period, then up to two
 * abort waits (unwinding, writing the hand-back), and the rest — at least a fifth of the
 * reserve — for the notifier, the database and the Discord logout. The reserve is half the
 * timeout, at most 10 s: 30 s → 20 s grace, 3 s + 3 s, 4 s; 2 s → 1 s grace, 300 + 300 ms, 400 ms.
 */
export function stopBudget(timeoutMs: number): StopBudget {
  const reserve = Math.min(10_000, Math.floor(timeoutMs / 2));
  return { graceMs: timeoutMs - reserve, abortWaitMs: Math.floor(reserve * 0.3) };
}

export interface CoreOptions {
  logger?: AppLogger;
  /** Null for adapters without guilds (the shell); default env.DISCORD_GUILD_ID. */
  guildId?: string | null;
  /** Test clock. */
  now?: () => number;
  /**
   * KVMOPS_SSH_KEYS_FILE as read at start-up (`readTeamKeys`, asynchronous: this function is
   * not). Required when the variable is set; its problems are logged here.
   */
  teamKeys?: TeamKeys;
  /**
   * KVMOPS_PROFILES_DIR as read at start-up (`readProfiles`, asynchronous). Required when the
   * variable is set; its problems are logged here (a refused profile stays refused, by name).
   */
  profiles?: Profiles;
}

export function createCore(env: Env, opts: CoreOptions = {}): AppCore {
  const logger = opts.logger ?? createLogger({ level: env.KVMOPS_LOG_LEVEL });
  const commands = loadCommands(COMMAND_MODULES);
  const store = openJobStore(env.KVMOPS_DB, {
    onListenerError: (err, job) => logger.error({ err, jobId: job.id }, 'job change listener failed'),
    ...(opts.now ? { now: opts.now } : {}),
  });
  if (env.KVMOPS_SSH_KEYS_FILE !== undefined && opts.teamKeys === undefined) {
    throw new KvmopsError('internal', 'KVMOPS_SSH_KEYS_FILE is set: read it (readTeamKeys) before createCore');
  }
  for (const problem of opts.teamKeys?.problems ?? []) logger.warn({ problem }, `KVMOPS_SSH_KEYS_FILE: ${problem}`);
  const teamSshKeys = opts.teamKeys?.keys ?? [];
  if (env.KVMOPS_PROFILES_DIR !== undefined && opts.profiles === undefined) {
    throw new KvmopsError('internal', 'KVMOPS_PROFILES_DIR is set: read it (readProfiles) before createCore');
  }
  for (const problem of opts.profiles?.problems ?? []) logger.warn({ problem }, `KVMOPS_PROFILES_DIR: ${problem}`);
  const hypervisor = createHypervisor({ hosts: env.KVMOPS_HOSTS, storageDir: env.KVMOPS_STORAGE_DIR, addressWaitMs: env.KVMOPS_ADDRESS_WAIT, ...(teamSshKeys.length ? { teamSshKeys } : {}) });
  const inventory = new InventoryStore(store.db);
  const reconciler = new Reconciler({ hypervisor, store: inventory, everyMs: env.KVMOPS_RECONCILE, logger, events: true });
  const probe = new HostProbe(hypervisor, { ...(opts.now ? { now: opts.now } : {}) });
  const services = createServices({
    store,
    hypervisor,
    inventory: inventoryPort(inventory, reconciler),
    ...(opts.profiles ? { profiles: profilesPort(opts.profiles) } : {}),
    hosts: hostsPort(env.KVMOPS_HOSTS, probe, store),
    config: {
      twoPerson: env.KVMOPS_TWO_PERSON,
      approvalTtlMs: env.KVMOPS_APPROVAL_TTL,
      maxBatch: env.KVMOPS_MAX_BATCH,
      guildId: opts.guildId === undefined ? (env.DISCORD_GUILD_ID ?? null) : opts.guildId,
    },
    log: logger,
    ...(opts.now ? { now: opts.now } : {}),
  });
  const router = new CommandRouter({ commands, services, rateLimit: env.KVMOPS_RATE_LIMIT, readRateLimit: env.KVMOPS_READ_RATE_LIMIT });
  return { env, logger, store, hypervisor, inventory, reconciler, probe, services, router, roles: RolePolicy.fromEnv(env) };
}

/** The hosts as the chat core sees them: the probe, KVMOPS_HOSTS' `;drain` flags with the drains set in chat, live jobs. */
export function hostsPort(hosts: readonly HostConfig[], probe: HostProbe, store: Pick<SqliteJobStore, 'hosts'>): HostsPort {
  const envDrained = new Set(hosts.filter((h) => h.drain).map((h) => h.name));
  return {
    probeAll: (o) => probe.all(o),
    probe: (host, o) => probe.get(host, o),
    templateMemory: (host, template, createdAt) => probe.templateMemory(host, template, createdAt),
    drain: (host) => {
      const chat = store.hosts.list().find((s) => s.host === host) ?? null;
      return { drained: envDrained.has(host) || chat?.drained === true, env: envDrained.has(host), chat };
    },
    setDrain: async (host, drained, by) => store.hosts.setDrain(host, drained, by),
    jobs: (host) => {
      const c = store.hosts.jobCounts().find((j) => j.host === host);
      return { queued: c?.queued ?? 0, running: c?.running ?? 0 };
    },
  };
}

/** What the chat core reads of the inventory (src/chat/inventory-port.ts): its reads, and a fresh pass. */
export function inventoryPort(inventory: InventoryStore, reconciler: Reconciler): InventoryPort {
  const { reads } = inventory;
  return {
    status: (host) => ({ importing: reconciler.importing(host) ?? null, ...inventory.hostStatus(host) }),
    refresh: (host) => reconciler.refresh(host),
    templates: (host) => reads.templates(host),
    dependentsOf: (host, template) => reads.dependentsOf(host, template),
    templateNames: (host, prefix, limit) => reads.templateNames(host, prefix, limit),
    vmNames: (host, prefix, limit) => reads.vmNames(host, prefix, limit),
    vmsNamed: (host, name) => reads.vmsNamed(host, name).map(({ uuid, name: n, state }) => ({ uuid, name: n, state })),
    snapshots: (host, uuid) => reads.snapshotsOf(host, uuid),
    vmCounts: (host) => reads.vmCounts(host),
    vmPage: (host, p) => reads.vmPage(host, p.offset, p.limit, p.filter),
    vmNamed: (host, name) => {
      const [known] = reads.vmsNamed(host, name);
      return known && reads.vm(host, known.uuid);
    },
  };
}

export interface StartOptions {
  sinks: NotificationSink[];
  discordStatus?: () => DiscordStatus;
  /** Worker lease; tests shorten it. */
  leaseMs?: number;
  approvalSweepMs?: number;
  /** Retention runs: how often, and the first one after start (tests shorten them). */
  pruneEveryMs?: number;
  pruneFirstAfterMs?: number;
  /**
   * The scheduler's clock (default the core's): the shell's `--clock` drives it, so a schedule's
   * runs can be watched without waiting for them.
   */
  scheduleNow?: () => number;
  /** The scheduler's tick and its first one after start (tests shorten or lengthen them). */
  scheduleTickMs?: number;
  scheduleFirstAfterMs?: number;
}

export async function startApp(core: AppCore, opts: StartOptions): Promise<App> {
  const { env, logger, store, hypervisor, inventory, reconciler } = core;
  const ops = await startOps({
    env,
    db: store.db,
    store,
    hypervisor,
    hosts: opsHosts(core),
    ...(opts.discordStatus ? { discordStatus: opts.discordStatus } : {}),
    logger,
  });
  const worker = new Worker({
    store,
    hypervisor,
    concurrency: env.KVMOPS_CONCURRENCY,
    hostConcurrency: env.KVMOPS_HOST_CONCURRENCY,
    inventory: inventory.write,
    referrers: inventoryReferrers(reconciler, inventory),
    logger,
    ...(opts.leaseMs ? { leaseMs: opts.leaseMs } : {}),
  });
  const notifier = new Notifier({
    outbox: store.outbox,
    store,
    approvals: store.approvals,
    sinks: opts.sinks,
    logger,
  });
  const sweeper = new ApprovalSweeper(store.approvals, {
    logger,
    ...(opts.approvalSweepMs ? { everyMs: opts.approvalSweepMs } : {}),
  });
  const pruner = new Pruner(store, {
    retentionMs: env.KVMOPS_RETENTION,
    auditRetentionMs: env.KVMOPS_AUDIT_RETENTION,
    logger,
    ...(opts.pruneEveryMs ? { everyMs: opts.pruneEveryMs } : {}),
    ...(opts.pruneFirstAfterMs !== undefined ? { firstAfterMs: opts.pruneFirstAfterMs } : {}),
    now: () => store.now(),
  });
  const scheduler = new Scheduler({
    services: core.services,
    logger,
    ...(opts.scheduleNow ? { now: opts.scheduleNow } : {}),
    ...(opts.scheduleTickMs ? { tickMs: opts.scheduleTickMs } : {}),
    ...(opts.scheduleFirstAfterMs !== undefined ? { firstAfterMs: opts.scheduleFirstAfterMs } : {}),
  });
  notifier.start();
  sweeper.start();
  scheduler.start();
  pruner.start();
  worker.start();
  // In the background: the first start on an existing host imports it batch by batch.
  reconciler.start();
  // A first look at every host, so the first `/host list` finds their figures (a remote host's
  // read takes an ssh connection: longer than the probe's wait when the machine is busy).
  void core.probe.all({ waitMs: 0 });
  let stopped: Promise<void> | undefined;
  return {
    ...core,
    worker,
    notifier,
    scheduler,
    ops,
    stop(stopOpts = {}) {
      stopped ??= (async () => {
        sweeper.stop();
        await scheduler.stop();
        await pruner.stop();
        await reconciler.stop();
        await worker.stop({
          graceMs: stopOpts.graceMs ?? 30_000,
          ...(stopOpts.abortWaitMs !== undefined ? { abortWaitMs: stopOpts.abortWaitMs } : {}),
        });
        await notifier.stop();
        await ops.close();
        store.close();
      })();
      return stopped;
    },
  };
}

/**
 * /healthz and /metrics per host, from the same probe as `/host list` (one read per host per
 * TTL, whoever asks), with the inventory's counts, the live jobs and the drain state.
 */
function opsHosts(core: Pick<AppCore, 'probe' | 'inventory' | 'services' | 'store'>): { health(): Promise<HostHealth[]>; figures(): HostFigures[] } {
  const { probe, inventory, store } = core;
  const hosts = core.services.hosts!;
  return {
    health: async () =>
      (await probe.all()).map((s) => ({
        name: s.host,
        ok: s.reachable === true,
        detail: s.reachable === true ? `libvirt ${s.facts!.libvirt}, ${s.facts!.hypervisor}` : s.reachable === false ? (s.error ?? 'no answer') : 'not read yet',
        ...(s.unreachableSince !== null ? { unreachableSince: new Date(s.unreachableSince).toISOString() } : {}),
        ...(s.facts ? { libvirt: s.facts.libvirt, hypervisor: s.facts.hypervisor, memory: { total: s.facts.memory.total, available: s.facts.memory.available }, storage: s.facts.storage } : {}),
        drained: hosts.drain(s.host).drained,
      })),
    figures: () => {
      const jobs = store.hosts.jobCounts();
      return probe.hostNames().map((host) => {
        const s = probe.peek(host);
        const j = jobs.find((x) => x.host === host);
        return {
          host,
          up: s.reachable,
          unreachableSeconds: s.unreachableSince === null ? 0 : Math.max(0, (store.now() - s.unreachableSince) / 1000),
          cpus: s.facts?.cpus ?? null,
          memory: s.facts ? { total: s.facts.memory.total, available: s.facts.memory.available } : null,
          storage: s.facts?.storage ?? null,
          vms: inventory.reads.vmCounts(host),
          templates: inventory.reads.templates(host).length,
          jobs: { queued: j?.queued ?? 0, running: j?.running ?? 0 },
          drained: hosts.drain(host).drained,
        };
      });
    },
  };
}
