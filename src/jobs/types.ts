import type { SshPublicKey } from '../domain/ssh-keys.js';
import type { ErrorCode } from '../domain/errors.js';
import type { JobKind } from '../kinds/index.js';
import type { JobState } from '../domain/job-states.js';

/**
 * The jobs layer's public types. Only src/jobs touches SQLite; everyone else (commands, worker,
 * notifier, chat adapters) goes through the `JobStore` / `Approvals` / `Outbox` / `Audit`
 * interfaces below.
 */

/** Where a job reports: a chat channel, and the status message once the notifier made it. */
export interface NotifyTarget {
  /** `discord` or `shell`: which adapter delivers this job's notifications. */
  adapter: string;
  guildId: string | null;
  channelId: string;
}

export interface Requester {
  id: string;
  /** Display name at request time, for messages and audit. */
  name: string;
}

export interface Job {
  id: number;
  /**
   * Made at enqueue (`req-<uuid>`), never repeated — unlike `id`, which a restored backup or a
   * second database hands out again. What the host records for the job (a revert, a deploy's
   * VMs) and the job's message nonces are keyed by it.
   */
  requestId: string;
  kind: JobKind;
  payload: Record<string, unknown>;
  state: JobState;
  lockKey: string;
  dedupeKey: string;
  priority: number;
  /** Epoch ms: not claimable before. */
  runAt: number;
  attempts: number;
  maxAttempts: number;
  leaseOwner: string | null;
  /** Fencing token: increases on every claim; only the current token may heartbeat/complete/fail. */
  leaseToken: number;
  leaseExpiresAt: number | null;
  cancelRequested: boolean;
  /** Set when a job was taken back from an expired lease: its executor must check real state first. */
  recovered: boolean;
  error: { code: ErrorCode; message: string } | null;
  result: unknown;
  /** Last progress written by the executor. */
  progress: { step: string; fraction?: number } | null;
  requester: Requester;
  notify: NotifyTarget;
  /**
   * The chat's id of the job's status message (null before the first post), or `summary` when
   * the job's line lives in its channel's summary message (src/notifier/crowd.ts). The notifier's.
   */
  statusMessageId: string | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /**
   * The batch the job belongs to (a VM pattern made one job per VM): the id of the batch's first
   * job, its lead — null for a job on its own. One approval decides a whole batch.
   */
  batchId: number | null;
  /**
   * A successful end mentions nobody: the status message is edited in place and that is all
   * (a schedule's run, issue 25). A failure still mentions the requester.
   */
  quiet: boolean;
}

export interface EnqueueRequest {
  kind: JobKind;
  payload: Record<string, unknown>;
  requester: Requester;
  notify: NotifyTarget;
  priority?: number;
  maxAttempts?: number;
  /** Defaults to KINDS_NEEDING_APPROVAL.has(kind). */
  needsApproval?: boolean;
  /** Approval expiry, ms from now (KVMOPS_APPROVAL_TTL). */
  approvalTtlMs?: number;
  /** Job.quiet: no completion mention when it (its batch) succeeds. Default false. */
  quiet?: boolean;
}

export interface JobFilter {
  state?: JobState;
  requesterId?: string;
  limit?: number;
  /** Rows skipped first (a later page of /job list); default 0. */
  offset?: number;
}

/** A claimed job: the lease the worker must present to finish it. */
export interface Lease {
  jobId: number;
  owner: string;
  token: number;
}

export type JobEventType =
  | 'created'
  | 'awaiting_approval'
  | 'queued'
  | 'running'
  | 'progress'
  | 'retrying'
  | 'succeeded'
  | 'failed'
  | 'cancelled'
  | 'cancel_requested'
  | 'approval_expired';

/**
 * What an outbox event keeps of its job: what its notification shows, as it was right after the
 * change — not a copy of the job (no payload, no full result: those stay in the job row). Texts
 * are cut so that an event row stays under 0.5 KB (src/jobs/snapshot.ts). Only what the view of
 * the job's state shows is kept: progress while running, the result summary once succeeded, the
 * error once failed or cancelled or while a retry waits.
 */
export interface JobSnapshot {
  id: number;
  /** The job's request id (keys its message nonces): read from the job row, not stored per event. */
  requestId: string;
  kind: JobKind;
  state: JobState;
  /** The job's one description (`describeJob`): "Deploy web ×4 (thin) from base on local". */
  title: string;
  requester: Requester;
  /** Where to post. */
  notify: NotifyTarget;
  attempts: number;
  maxAttempts: number;
  recovered: boolean;
  cancelRequested: boolean;
  runAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Running jobs only. */
  progress: JobProgress | null;
  /** Succeeded jobs only: the kind's one-line summary of the result (`resultSummary`). */
  result: string | null;
  /** Failed and cancelled jobs, and queued ones waiting for a retry (their last error). */
  error: { code: ErrorCode; message: string } | null;
}

/** An outbox row: written in the same transaction as the change it reports. */
export interface JobEvent {
  id: number;
  jobId: number;
  type: JobEventType;
  /** The job as it was right after the change, as far as the notification shows it. */
  job: JobSnapshot;
  createdAt: number;
  deliveredAt: number | null;
  /** Failed delivery attempts so far (markAttemptFailed). */
  attempts: number;
  lastError: string | null;
}

/**
 * `cancelled`: the job was cancelled (`/job cancel`) while its approval was pending; nobody
 * decided on it, so it is neither `rejected` nor `expired`. `decidedBy` is then whoever cancelled.
 */
export type ApprovalState = 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled';

export interface Approval {
  jobId: number;
  state: ApprovalState;
  /** The chat message carrying ✅ / ❌, once posted. */
  adapter: string | null;
  channelId: string | null;
  messageId: string | null;
  requesterId: string;
  decidedBy: string | null;
  decidedAt: number | null;
  expiresAt: number;
  createdAt: number;
}

export interface AuditEntry {
  at: number;
  userId: string;
  userName: string;
  command: string;
  options: Record<string, unknown>;
  /** `accepted` (with jobId), `refused` (with code), `read`. */
  outcome: 'accepted' | 'refused' | 'read' | 'error';
  code?: string | undefined;
  jobId?: number | undefined;
}

/** A progress step as written by an executor. */
export interface JobProgress {
  step: string;
  fraction?: number;
}

export interface CancelOutcome {
  job: Job;
  /** `cancelled`: it was queued or awaiting approval; `stop-requested`: it runs, the worker will abort it. */
  effect: 'cancelled' | 'stop-requested';
}

export type Decision = 'approve' | 'reject';

export interface DecideOutcome {
  approval: Approval;
  job: Job;
  /** The other jobs of its batch the same decision moved (absent for a job on its own). */
  batch?: Job[];
}

/**
 * The queue. Every method is one SQLite transaction; every state change also writes its
 * JobEvent (outbox) in that transaction. Errors are KvmopsError: `duplicate-job` (details.jobId),
 * `job-not-found`, `lease-lost`, `not-cancellable`, `already-decided`, `invalid-input`; and from
 * any write `db-busy` (the database is locked by another process or full: nothing was written,
 * retry it — see retry.ts).
 */
export interface JobStore {
  /** Validates the payload with its kind's schema; `awaiting_approval` or `queued`. */
  enqueue(req: EnqueueRequest): Job;
  /**
   * One job per request, one transaction (all or none), grouped as one batch: the first job is
   * the lead, its id every job's `batchId`. Refusals as `enqueue`'s, for any of them.
   */
  enqueueBatch(reqs: EnqueueRequest[]): Job[];
  /** The jobs of a batch, lead first (none for an unknown batch). */
  batch(batchId: number): Job[];
  get(id: number): Job | undefined;
  list(filter?: JobFilter): Job[];
  /**
   * One atomic statement: the oldest claimable job (queued, run_at ≤ now, no running job on its
   * lock key, no older queued job on its lock key, host below its limit), attempts + 1, a new
   * fencing token. Re-validates the payload; an invalid one fails the job permanently.
   */
  claim(owner: string, leaseMs: number, limits?: { perHost?: number; hosts?: string[] }): { job: Job; lease: Lease } | undefined;
  heartbeat(lease: Lease, leaseMs: number): { cancelRequested: boolean };
  progress(lease: Lease, p: JobProgress): void;
  /**
   * `along(now)` runs inside the completion's transaction (the job's inventory rows): both are
   * written, or neither.
   */
  complete(lease: Lease, result: unknown, along?: (now: number) => void): Job;
  /** `retry` true and attempts left → back to queued with capped exponential backoff + jitter. */
  fail(lease: Lease, error: { code: string; message: string }, opts: { retry: boolean }): Job;
  /** The lease holder gives a job back without it counting as failed (graceful shutdown). */
  release(lease: Lease): Job;
  /** A running job that stopped because it was cancelled. */
  cancelRunning(lease: Lease, message: string): Job;
  requestCancel(id: number, by: { id: string; name: string }): CancelOutcome;
  /** Takes back expired leases (→ queued, recovered = true; or failed when attempts are used up). */
  reap(now?: number): Job[];
  setStatusMessage(jobId: number, messageId: string): void;
  /** Called after every committed change (the worker uses it to wake at once). */
  onChange(listener: (job: Job) => void): () => void;
}

/**
 * Pending decisions on jobs in `awaiting_approval`. Only the state machine lives here: *who* may
 * decide (approver role, two-person rule) is checked by the chat side before calling `decide`.
 */
export interface Approvals {
  /** Records the chat message carrying ✅ / ❌ so a reaction can be traced back to its job. */
  attachMessage(jobId: number, message: { adapter: string; channelId: string; messageId: string }): Approval;
  byMessage(messageId: string): Approval | undefined;
  get(jobId: number): Approval | undefined;
  /** Pending approvals, oldest first (to re-attach reaction handlers after a restart). */
  listPending(): Approval[];
  /**
   * Atomic and final: approve → job `queued` (event `queued`); reject → job `cancelled` with
   * error `aborted` "rejected by …" (event `cancelled`). Anything but a pending, unexpired
   * approval throws `already-decided` with details.state (an overdue one is expired first).
   */
  decide(jobId: number, decision: Decision, by: Requester): DecideOutcome;
  /** Expires pending approvals due at `now`: job `cancelled` (events `approval_expired`, `cancelled`). */
  expireDue(now?: number): Job[];
}

/** The notifier's side of the job_events outbox. */
export interface Outbox {
  /**
   * Undelivered events to be posted through `adapter`, oldest first, those with an id above
   * `afterId` (a notifier pages through with it). Per adapter, so that events for an adapter no
   * running process serves are never in the way of the others.
   */
  pending(adapter: string, limit: number, afterId?: number): JobEvent[];
  /** The undelivered events of one job with an id above `afterId`, oldest first (the rest of a page's job). */
  pendingOfJob(jobId: number, afterId: number): JobEvent[];
  /** How many events wait, per adapter (read once at start, to say what waits for another process). */
  pendingByAdapter(): Map<string, number>;
  markDelivered(eventId: number): void;
  /** Counts a failed delivery and keeps the error; the event stays pending. */
  markAttemptFailed(eventId: number, error: string): void;
}

/** Every command invocation, refusals included. */
/** Which audit rows `/audit` and `npm run audit` read: those at or after `since`, optionally of one user or command. */
export interface AuditFilter {
  /** Epoch ms: rows with `at >= since`. */
  since: number;
  userId?: string | undefined;
  /** The command as audited: `deploy`, `snapshot revert` (exact). */
  command?: string | undefined;
  /** At most this many rows, newest first (1–AUDIT_MAX_LIMIT). */
  limit: number;
  /** Rows skipped first (a later page of /audit); default 0. */
  offset?: number;
}

export interface AuditPage {
  /** Newest first, at most `limit`. */
  entries: AuditEntry[];
  /** How many rows match in all, counted up to AUDIT_COUNT_CAP; `totalCapped` when there are more. */
  total: number;
  totalCapped: boolean;
}

export interface Audit {
  record(entry: AuditEntry): void;
  /** Newest first. */
  list(limit: number): AuditEntry[];
  /** The matching rows, newest first, and how many match (bounded: see AuditPage). */
  query(filter: AuditFilter): AuditPage;
}

/** A person's stored SSH public key (`/key`; migration 009). */
export interface StoredSshKey {
  name: string;
  type: string;
  bits: number;
  /** `SHA256:…`, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  /** The canonical `TYPE BASE64 [comment]` line that goes into a VM's seed. */
  line: string;
  /** Epoch ms. */
  createdAt: number;
}

/** A host's state as chat set it (`/host drain`; migration 013). */
export interface HostState {
  host: string;
  drained: boolean;
  changedBy: { id: string; name: string };
  changedAt: number;
}

/** Hosts' state and live jobs (host-drain.ts, host-states.ts, host-jobs.ts). */
export interface HostStates {
  /** Throws `db-busy` when the database is locked. */
  setDrain(host: string, drained: boolean, by: { id: string; name: string }): HostState;
  list(): HostState[];
  /** Queued and running jobs per host (hosts with none are absent). */
  jobCounts(): Array<{ host: string; queued: number; running: number }>;
}

/** People's SSH keys (key-add.ts, key-list.ts, key-remove.ts). Writes throw `db-busy` when the database is locked. */
export interface SshKeys {
  /** Throws `key-exists`, `name-taken`, `invalid-input` (too many). */
  add(userId: string, key: SshPublicKey, name?: string): StoredSshKey;
  list(userId: string): StoredSshKey[];
  /** Throws `key-not-found`. */
  remove(userId: string, name: string): StoredSshKey;
}

/** A scheduled snapshot (`/schedule create`, issue 25; migration 012). */
export interface Schedule {
  id: number;
  host: string;
  /** A VM name or a pattern (`web-*`): matched at each run, not at creation. */
  pattern: string;
  everyMs: number;
  /** How many of its own snapshots the schedule keeps per VM (1–100). */
  keep: number;
  kind: 'internal' | 'external';
  /** Who made it: each run's requester (a failed run mentions them). */
  creator: Requester;
  /** Where it was made: each run's status message goes there. */
  notify: NotifyTarget;
  /** Epoch ms: the next run is due then (or at start-up, once, when that has passed). */
  nextRunAt: number;
  lastRunAt: number | null;
  /** The last run's batch (its lead job), if it made one. */
  lastBatchId: number | null;
  /** What the last run did, in a few words ("3 VMs", "no VM matches"). */
  lastNote: string | null;
  createdAt: number;
}

export type NewSchedule = Pick<Schedule, 'host' | 'pattern' | 'everyMs' | 'keep' | 'kind' | 'creator' | 'notify'> & {
  /** Default: now + everyMs. */
  firstRunAt?: number;
};

/** A run whose retention is still to do. */
export interface ScheduleRun {
  id: number;
  scheduleId: number;
  /** Epoch ms: when it was claimed (its snapshots' names say this minute, UTC). */
  at: number;
  /** The run's batch (lead job id); null while it is being enqueued, or when no VM matched. */
  batchId: number | null;
}

/** A snapshot a schedule's run made (its job succeeded): the only kind retention deletes. */
export interface MadeSnapshot {
  host: string;
  vmUuid: string;
  vm: string;
  name: string;
  /** libvirt's creation time, unix seconds: with the uuid and the name, which snapshot it is. */
  createdAt: number;
  jobId: number;
}

/** The schedules' store (src/jobs/schedule-*.ts). Writes throw `db-busy` when the database is locked. */
export interface Schedules {
  /** Throws `invalid-input` (every < 1 min, keep outside 1–100, too many schedules). */
  create(spec: NewSchedule): Schedule;
  get(id: number): Schedule | undefined;
  /** Every schedule, by id (at most MAX_SCHEDULES). */
  list(): Schedule[];
  /** Throws `schedule-not-found`. Its open runs and its records go with it; its snapshots stay. */
  delete(id: number): Schedule;
  /** Schedules due at `now`, soonest first. */
  due(now: number, limit: number): Schedule[];
  /**
   * Takes the run due at `seen` (compare-and-set on next_run_at): the new run, or undefined when
   * another process took it or the schedule changed/vanished.
   */
  claim(id: number, seen: number, now: number): ScheduleRun | undefined;
  /**
   * The run's batch, enqueued (as `enqueueBatch`, same refusals) and recorded on the run and the
   * schedule in ONE transaction: a crash leaves both or neither, never snapshots the schedule
   * does not know it made.
   */
  enqueueRun(runId: number, reqs: EnqueueRequest[], note: string): Job[];
  /** A run that made no batch (nothing matched, the host unreachable …): a few words for /schedule list. */
  attachBatch(runId: number, batchId: number | null, note: string): void;
  /** Runs whose retention is still to do, oldest first. */
  openRuns(limit: number): ScheduleRun[];
  /**
   * Takes the run's retention (compare-and-set: its row is deleted) and records the snapshots it
   * made, in one transaction: true for the one caller that got it.
   */
  retain(run: ScheduleRun, made: MadeSnapshot[]): boolean;
  /** What the schedule made on one VM, newest first. */
  made(scheduleId: number, host: string, vmUuid: string): MadeSnapshot[];
  /** A record whose snapshot is gone (or is another now): dropped. */
  forget(scheduleId: number, host: string, vmUuid: string, name: string): void;
}
