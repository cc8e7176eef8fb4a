import type { ErrorCode } from '../domain/errors.js';
import type { JobKind, JobState } from '../domain/job-kinds.js';

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
  statusMessageId: string | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
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
}

export interface JobFilter {
  state?: JobState;
  requesterId?: string;
  limit?: number;
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

/** An outbox row: written in the same transaction as the change it reports. */
export interface JobEvent {
  id: number;
  jobId: number;
  type: JobEventType;
  /** The job as it was right after the change (what the notification shows). */
  job: Job;
  createdAt: number;
  deliveredAt: number | null;
  attempts: number;
}

export type ApprovalState = 'pending' | 'approved' | 'rejected' | 'expired';

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
