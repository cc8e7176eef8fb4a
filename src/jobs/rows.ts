import { ERROR_CODES, type ErrorCode } from '../domain/errors.js';
import type { JobKind } from '../kinds/index.js';
import type { JobState } from '../domain/job-states.js';
import type { Approval, ApprovalState, Job } from './types.js';

/** Rows as SQLite returns them, and their mapping to the public types. */

export interface JobRow {
  id: number;
  request_id: string;
  kind: string;
  payload: string;
  state: string;
  lock_key: string;
  host: string;
  dedupe_key: string;
  priority: number;
  run_at: number;
  attempts: number;
  max_attempts: number;
  lease_owner: string | null;
  lease_token: number;
  lease_expires_at: number | null;
  cancel_requested: number;
  recovered: number;
  error_code: string | null;
  error_message: string | null;
  result: string | null;
  progress: string | null;
  requester_id: string;
  requester_name: string;
  notify_adapter: string;
  notify_guild_id: string | null;
  notify_channel_id: string;
  status_message_id: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** Migration 010: the batch's lead job id, or NULL. */
  batch_id: number | null;
  /** Migration 012: 1 when a successful end mentions nobody (a schedule's run). */
  quiet: number;
}

export interface ApprovalRow {
  job_id: number;
  state: string;
  adapter: string | null;
  channel_id: string | null;
  message_id: string | null;
  requester_id: string;
  decided_by: string | null;
  decided_at: number | null;
  expires_at: number;
  created_at: number;
}

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** An error code from the outside world (a worker's fail call) as one of ours; unknown → internal. */
export function errorCode(code: string): ErrorCode {
  return KNOWN_CODES.has(code) ? (code as ErrorCode) : 'internal';
}

const parse = (s: string | null): unknown => (s === null ? null : JSON.parse(s));

export function rowToJob(r: JobRow): Job {
  return {
    id: r.id,
    requestId: r.request_id,
    kind: r.kind as JobKind,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    state: r.state as JobState,
    lockKey: r.lock_key,
    dedupeKey: r.dedupe_key,
    priority: r.priority,
    runAt: r.run_at,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    leaseOwner: r.lease_owner,
    leaseToken: r.lease_token,
    leaseExpiresAt: r.lease_expires_at,
    cancelRequested: r.cancel_requested === 1,
    recovered: r.recovered === 1,
    error: r.error_code === null ? null : { code: errorCode(r.error_code), message: r.error_message ?? '' },
    result: parse(r.result),
    progress: parse(r.progress) as Job['progress'],
    requester: { id: r.requester_id, name: r.requester_name },
    notify: { adapter: r.notify_adapter, guildId: r.notify_guild_id, channelId: r.notify_channel_id },
    statusMessageId: r.status_message_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    batchId: r.batch_id ?? null,
    quiet: r.quiet === 1,
  };
}

export function rowToApproval(r: ApprovalRow): Approval {
  return {
    jobId: r.job_id,
    state: r.state as ApprovalState,
    adapter: r.adapter,
    channelId: r.channel_id,
    messageId: r.message_id,
    requesterId: r.requester_id,
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
  };
}

/** JSON for a nullable column: `undefined` (e.g. an executor with no result) is stored as NULL. */
export function toJson(v: unknown): string | null {
  return v === undefined ? null : JSON.stringify(v);
}
