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
  /** The jobs of a batch (`Job.batchId`), lead first. */
  batch(batchId: number): MaybePromise<Job[]>;
  get(id: number): MaybePromise<Job | undefined>;
  list(filter?: JobFilter): MaybePromise<Job[]>;
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
      batch: (batchId) => store.batch(batchId),
      get: (id) => store.get(id),
      list: (filter) => store.list(filter),
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
