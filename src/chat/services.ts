import type {
  Approval,
  AuditEntry,
  AuditFilter,
  AuditPage,
  CancelOutcome,
  DecideOutcome,
  Decision,
  EnqueueRequest,
  Job,
  JobFilter,
  MadeSnapshot,
  NewSchedule,
  Schedule,
  ScheduleRun,
  StoredSshKey,
} from '../jobs/types.js';
import type { SshPublicKey } from '../domain/ssh-keys.js';
import { retryWhileBusy } from '../jobs/retry.js';
import type { Logger } from '../domain/logger.js';
import { Catalog, invalidateOnJobEnd } from './catalog.js';
import type { HypervisorReader } from './hypervisor-reader.js';
import type { InventoryPort } from './inventory-port.js';
import type { HostsPort } from './hosts-port.js';

/**
 * What command handlers, the router and the approval policy may use — and nothing more.
 * Each port is the narrow slice of a bigger interface that this layer actually calls, so an
 * adapter builds `Services` from the real `SqliteJobStore` / `Hypervisor` and a test can build
 * it from anything that fits. Results may be sync (better-sqlite3) or async: callers await.
 */

type MaybePromise<T> = T | Promise<T>;

/** The slice of `JobStore` commands use (src/jobs/types.ts). */
export interface JobsPort {
  /** Throws KvmopsError `duplicate-job` (details.jobId) or `invalid-input`. */
  enqueue(req: EnqueueRequest): MaybePromise<Job>;
  /** A VM pattern's jobs, one transaction (all or none), one batch: the lead first. Refusals as enqueue's. */
  enqueueBatch(reqs: EnqueueRequest[]): MaybePromise<Job[]>;
  /** One more job for an existing batch (a schedule run's retention deletes). Refusals as enqueue's; `job-not-found` without the batch. */
  enqueueIntoBatch(batchId: number, req: EnqueueRequest): MaybePromise<Job>;
  /** The jobs of a batch (`Job.batchId`), lead first. */
  batch(batchId: number): MaybePromise<Job[]>;
  get(id: number): MaybePromise<Job | undefined>;
  list(filter?: JobFilter): MaybePromise<Job[]>;
  /** How many jobs `list` pages through: exact up to 10,000, then `capped` ("more than 10,000"). */
  count(filter?: Omit<JobFilter, 'limit' | 'offset'>): MaybePromise<{ total: number; capped: boolean }>;
  /** Throws `job-not-found`, `not-cancellable`. */
  requestCancel(id: number, by: { id: string; name: string }): MaybePromise<CancelOutcome>;
}

/** The slice of the store's approvals the reaction policy uses. */
export interface ApprovalsPort {
  get(jobId: number): MaybePromise<Approval | undefined>;
  byMessage(messageId: string): MaybePromise<Approval | undefined>;
  listPending(): MaybePromise<Approval[]>;
  /** Throws KvmopsError `already-decided` when it is no longer pending. */
  decide(jobId: number, decision: Decision, by: { id: string; name: string }): MaybePromise<DecideOutcome>;
  /**
   * Ties the approval to the chat message that asks for it (adapters: before anyone can react
   * to it, so a ✅ finds its approval). Throws `job-not-found` when the job has no approval.
   */
  attachMessage(jobId: number, message: ApprovalMessage): MaybePromise<unknown>;
}

/** Where an approval request was posted. */
export interface ApprovalMessage {
  adapter: string;
  channelId: string;
  messageId: string;
}

export interface AuditPort {
  record(entry: AuditEntry): MaybePromise<unknown>;
  /** `/audit`: the matching rows newest first, and how many match (bounded). */
  query(filter: AuditFilter): MaybePromise<AuditPage>;
}

/** People's SSH public keys (`/key`; the store's `keys`). */
export interface KeysPort {
  /** Throws `key-exists`, `name-taken`, `invalid-input` (too many keys). */
  add(userId: string, key: SshPublicKey, name?: string): MaybePromise<StoredSshKey>;
  list(userId: string): MaybePromise<StoredSshKey[]>;
  /** Throws `key-not-found`. */
  remove(userId: string, name: string): MaybePromise<StoredSshKey>;
}

/**
 * Scheduled snapshots (`/schedule`, src/chat/scheduler.ts; the store's `schedules`, see
 * src/jobs/types.ts `Schedules` for each call's contract).
 */
export interface SchedulesPort {
  /** Throws `invalid-input`. */
  create(spec: NewSchedule): MaybePromise<Schedule>;
  get(id: number): MaybePromise<Schedule | undefined>;
  list(): MaybePromise<Schedule[]>;
  /** Throws `schedule-not-found`. */
  delete(id: number): MaybePromise<Schedule>;
  due(now: number, limit: number): MaybePromise<Schedule[]>;
  claim(id: number, seen: number, now: number): MaybePromise<ScheduleRun | undefined>;
  enqueueRun(runId: number, reqs: EnqueueRequest[], note: string): MaybePromise<Job[]>;
  attachBatch(runId: number, batchId: number | null, note: string): MaybePromise<void>;
  openRuns(limit: number): MaybePromise<ScheduleRun[]>;
  retain(run: ScheduleRun, made: MadeSnapshot[]): MaybePromise<boolean>;
  made(scheduleId: number, host: string, vmUuid: string): MaybePromise<MadeSnapshot[]>;
  forget(scheduleId: number, host: string, vmUuid: string, name: string): MaybePromise<void>;
}

/** The hypervisor port (in its own file: the catalog uses it too, and services uses the catalog). */
export type { HostReader, HypervisorReader } from './hypervisor-reader.js';

export interface ChatConfig {
  /** KVMOPS_TWO_PERSON: the requester's own reactions do not count. */
  twoPerson: boolean;
  /** KVMOPS_APPROVAL_TTL in ms (shown in the approval request; the store sets the expiry). */
  approvalTtlMs: number;
  /**
   * The one guild served (DISCORD_GUILD_ID). null = no guild check: the shell adapter passes
   * null, since a terminal has no guild. When set, DMs (guildId null) are refused too.
   */
  guildId: string | null;
  /** KVMOPS_MAX_BATCH: the most VMs one pattern may match (default DEFAULT_MAX_BATCH, 50). */
  maxBatch?: number;
}

/** The chat layer only warns and reports errors (the shared port: src/domain/logger.ts). */
export type ChatLogger = Pick<Logger, 'error' | 'warn'>;

export type { HostDrain, HostsPort } from './hosts-port.js';

/** The inventory port (in its own file: the catalog reads it too). */
export type { InventoryPort, InventoryStatus, InventoryTemplateView, InventoryVmDetail, InventoryVmRow } from './inventory-port.js';

/** Deploy profiles (`/deploy profile:`): cloud-configs read once at start-up. */
export interface ProfilesPort {
  /** The usable profiles' names (autocomplete). */
  names(): string[];
  /**
   * The named profile's `#cloud-config` settings, JSON-safe, to be captured into the payload;
   * `profile-not-found`, or `profile-invalid` with the file's problem (`FILE:LINE: reason`).
   */
  userData(name: string): Record<string, unknown>;
}

export interface Services {
  jobs: JobsPort;
  approvals: ApprovalsPort;
  audit: AuditPort;
  keys: KeysPort;
  /** Scheduled snapshots (absent where no store keeps them: some tests). */
  schedules?: SchedulesPort;
  hypervisor: HypervisorReader;
  catalog: Catalog;
  /** What kvmops knows of its hosts (absent where no inventory runs: some tests). */
  inventory?: InventoryPort;
  /** The deploy profiles of KVMOPS_PROFILES_DIR, read at start-up (absent: none configured). */
  profiles?: ProfilesPort;
  /** The hosts' live state, drain and jobs (`/host`, `/deploy host:auto`); absent in some tests. */
  hosts?: HostsPort;
  config: ChatConfig;
  /** Epoch ms; injected so tests control time (rate limit, expiry). */
  now(): number;
  log?: ChatLogger;
}

/**
 * How long a chat write (enqueue, cancel, approval decision or message, audit row) waits out a database
 * another process holds locked, or a full disk, before it is given up as `db-busy`. Within
 * Discord's 15-minute interaction token, so the deferred reply can still say what happened.
 */
export const CHAT_DB_PATIENCE_MS = 10 * 60_000;

/**
 * Services from the real parts, the same way for every adapter:
 *   createServices({ store, hypervisor, config: { twoPerson, approvalTtlMs, guildId }, log })
 * with `store` a SqliteJobStore (its `approvals` and `audit` are used) and `hypervisor` the real
 * Hypervisor. The catalog is made here, on the inventory when one is given (its answers then
 * come from it), and its host-read cache is dropped as jobs end (`invalidateOnJobEnd`).
 *
 * The store's writes are synchronous and fail at once with `db-busy` when the database is busy
 * (src/jobs/db.ts); here they become async and are retried on timers (`retryWhileBusy`), so an
 * enqueue from a command or a decision from a reaction made while another process holds the
 * lock is written once it is released — and the event loop (the 3-second acknowledgements,
 * the gateway heartbeat) never waits for it.
 */
export function createServices(deps: {
  store: JobsPort & {
    approvals: ApprovalsPort;
    audit: AuditPort;
    keys: KeysPort;
    schedules?: SchedulesPort;
    onChange?: (listener: (job: Job) => void) => () => void;
  };
  hypervisor: HypervisorReader;
  inventory?: InventoryPort;
  profiles?: ProfilesPort;
  hosts?: HostsPort;
  config: ChatConfig;
  now?: () => number;
  log?: ChatLogger;
  catalogTtlMs?: number;
  /** How long a refusal waits for a host's first import (Catalog `importPatienceMs`). */
  importPatienceMs?: number;
  /** Default CHAT_DB_PATIENCE_MS. */
  dbPatienceMs?: number;
}): Services {
  const now = deps.now ?? Date.now;
  const catalog = new Catalog(deps.hypervisor, {
    now,
    ...(deps.catalogTtlMs !== undefined ? { ttlMs: deps.catalogTtlMs } : {}),
    ...(deps.inventory ? { inventory: deps.inventory } : {}),
    ...(deps.importPatienceMs !== undefined ? { importPatienceMs: deps.importPatienceMs } : {}),
  });
  const { store } = deps;
  if (store.onChange) invalidateOnJobEnd(catalog, (l) => store.onChange!(l));
  const durably = <T>(write: () => MaybePromise<T>): Promise<T> =>
    retryWhileBusy(write, {
      maxWaitMs: deps.dbPatienceMs ?? CHAT_DB_PATIENCE_MS,
      onRetry: (e, retry) => {
        if (retry === 1) deps.log?.warn({ err: e.message }, 'database busy: a chat write waits for it');
      },
    });
  const { approvals, audit } = store;
  return {
    jobs: {
      enqueue: (req) => durably(() => store.enqueue(req)),
      enqueueBatch: (reqs) => durably(() => store.enqueueBatch(reqs)),
      enqueueIntoBatch: (batchId, req) => durably(() => store.enqueueIntoBatch(batchId, req)),
      batch: (batchId) => store.batch(batchId),
      get: (id) => store.get(id),
      list: (filter) => store.list(filter),
      count: (filter) => store.count(filter),
      requestCancel: (id, by) => durably(() => store.requestCancel(id, by)),
    },
    approvals: {
      get: (jobId) => approvals.get(jobId),
      byMessage: (messageId) => approvals.byMessage(messageId),
      listPending: () => approvals.listPending(),
      decide: (jobId, decision, by) => durably(() => approvals.decide(jobId, decision, by)),
      attachMessage: (jobId, message) => durably(() => approvals.attachMessage(jobId, message)),
    },
    audit: { record: (entry) => durably(() => audit.record(entry)), query: (filter) => audit.query(filter) },
    keys: {
      add: (userId, key, name) => durably(() => store.keys.add(userId, key, name)),
      list: (userId) => store.keys.list(userId),
      remove: (userId, name) => durably(() => store.keys.remove(userId, name)),
    },
    ...(store.schedules ? { schedules: schedulesPort(store.schedules, durably) } : {}),
    hypervisor: deps.hypervisor,
    catalog,
    ...(deps.inventory ? { inventory: deps.inventory } : {}),
    ...(deps.profiles ? { profiles: deps.profiles } : {}),
    ...(deps.hosts ? { hosts: hostsDurably(deps.hosts, durably) } : {}),
    config: deps.config,
    now,
    ...(deps.log ? { log: deps.log } : {}),
  };
}

/**
 * The schedules' writes made durable like every chat write (a command's create or delete; the
 * scheduler's claim, batch and retention marks): a database another process holds is waited out.
 * The reads go as they are.
 */
function schedulesPort(s: SchedulesPort, durably: <T>(write: () => MaybePromise<T>) => Promise<T>): SchedulesPort {
  return {
    create: (spec) => durably(() => s.create(spec)),
    get: (id) => s.get(id),
    list: () => s.list(),
    delete: (id) => durably(() => s.delete(id)),
    due: (now, limit) => s.due(now, limit),
    claim: (id, seen, now) => durably(() => s.claim(id, seen, now)),
    enqueueRun: (runId, reqs, note) => durably(() => s.enqueueRun(runId, reqs, note)),
    attachBatch: (runId, batchId, note) => durably(() => s.attachBatch(runId, batchId, note)),
    openRuns: (limit) => s.openRuns(limit),
    retain: (run, made) => durably(() => s.retain(run, made)),
    made: (scheduleId, host, vmUuid) => s.made(scheduleId, host, vmUuid),
    forget: (scheduleId, host, vmUuid, name) => durably(() => s.forget(scheduleId, host, vmUuid, name)),
  };
}

/** The hosts port with its one write (`/host drain`) waiting out a busy database like every chat write. */
function hostsDurably(hosts: HostsPort, durably: <T>(write: () => MaybePromise<T>) => Promise<T>): HostsPort {
  return {
    probeAll: (opts) => hosts.probeAll(opts),
    probe: (host, opts) => hosts.probe(host, opts),
    templateMemory: (host, template, createdAt) => hosts.templateMemory(host, template, createdAt),
    drain: (host) => hosts.drain(host),
    setDrain: (host, drained, by) => durably(() => hosts.setDrain(host, drained, by)),
    jobs: (host) => hosts.jobs(host),
  };
}
