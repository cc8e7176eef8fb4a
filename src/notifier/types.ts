import type { JobKind } from '../kinds/index.js';
import type { JobState } from '../domain/job-states.js';
import type { Approval, Job, NotifyTarget, Requester } from '../jobs/types.js';

/**
 * What a chat adapter needs to draw a job's status message — chat-neutral: the Discord adapter
 * turns it into an embed coloured by `state`, the shell adapter into a few lines of text.
 */
export interface StatusView {
  jobId: number;
  /** The job's request id: unique across databases, so it (not the id) keys the job's message nonces. */
  requestId: string;
  kind: JobKind;
  state: JobState;
  /** e.g. "Deploy web ×4 (thin) from base on local" */
  title: string;
  /** The whole status as plain lines (state, requester, attempt, progress, duration, result, error). */
  lines: string[];
  progress?: { step: string; fraction?: number };
  /** Running: so far; finished: start to end. Absent before the job ran. */
  durationMs?: number;
  /** One-line summary of the result (succeeded jobs). */
  result?: string;
  error?: { code: string; message: string };
  requester: Requester;
  /** The job's last change, epoch ms: lets a sink drop an edit older than what it already shows. */
  updatedAt: number;
  /**
   * Set when the message is a batch's (a VM pattern's jobs: one status message for all, keyed by
   * the lead job): how many jobs, how many ended. A sink shows no per-job control (Cancel) on it.
   */
  batch?: { size: number; ended: number };
  /**
   * Set when the message is a channel summary (more live jobs in one channel than the crowding
   * threshold: src/notifier/crowd.ts): the jobs it covers, each with its line in `lines`. Like a
   * batch's, it carries no per-job control; `jobId`/`requestId` are its first job's.
   */
  summary?: { jobIds: number[]; ended: number };
  /**
   * Set on the view passed to `announceEnd` for a grouped completion mention (a crowded channel:
   * one mention per requester for the jobs of theirs that ended within a short window): every job
   * it covers, in id order. `jobId`/`requestId` are the first one's.
   */
  group?: EndedJob[];
}

/** One ended job named by a grouped completion mention. */
export interface EndedJob {
  jobId: number;
  state: JobState;
  title: string;
  durationMs?: number;
  result?: string;
  error?: { code: string; message: string };
}

/**
 * Implemented by each chat adapter (Discord, shell). The notifier calls a sink for one job at a
 * time, in event order, and retries with backoff any call that throws — except a
 * `PermanentSinkError`, which drops that notification.
 */
export interface NotificationSink {
  /** Matches `NotifyTarget.adapter` of the jobs this sink serves. */
  readonly adapter: string;
  /**
   * The platform's limit on message creates per channel (Discord: 5 per 5 s), which the
   * notifier's mentions keep to (src/notifier/crowd.ts). None: no limit (a terminal).
   */
  readonly createLimit?: { limit: number; windowMs: number };
  /**
   * Create (messageId null) or edit the job's status message; returns its message id (a new id
   * when the sink had to post a fresh message, e.g. Discord's 30046 on an old message or a
   * deleted message — the notifier stores it). Must be idempotent for the same (jobId,
   * messageId, view). Throws a retryable error for 429 / 5xx / gateway down.
   */
  upsertStatus(target: NotifyTarget, messageId: string | null, view: StatusView): Promise<string>;
  /**
   * A new message mentioning the requester when a job ends. Called once per finished job (see
   * Notifier for the one crash window that can repeat it); a sink that can should make it
   * idempotent itself, e.g. Discord's `nonce` + `enforce_nonce` keyed by the job's request id.
   */
  announceEnd(target: NotifyTarget, view: StatusView): Promise<void>;
  /** The approval request was approved, rejected or expired: edit the request message. Must be idempotent. */
  approvalChanged?(approval: Approval, job: Job): Promise<void>;
}

/**
 * A failure retrying cannot fix (unknown channel, missing access): the notifier logs it and marks
 * the events delivered instead of retrying forever. Errors with `retryable === false` count too.
 */
export class PermanentSinkError extends Error {
  readonly retryable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentSinkError';
  }
}

export function isPermanentSinkError(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { retryable?: unknown }).retryable === false;
}
