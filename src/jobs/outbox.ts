import { cutUtf8 } from '../domain/text.js';
import { KvmopsError } from '../domain/errors.js';
import type { JobState } from '../domain/job-states.js';
import type { JobKind } from '../kinds/index.js';
import { reportingBusy } from './busy.js';
import type { StoreContext } from './context.js';
import { errorCode } from './rows.js';
import type { JobEvent, JobEventType, Outbox } from './types.js';

/**
 * The read side of the job_events outbox (the write side is `StoreContext.event`, called inside
 * every change's transaction). Delivery is at-least-once from here: the notifier marks an event
 * delivered after the chat accepted it; making that exactly-once for users (an edit of the
 * status message is idempotent, a "finished" mention is sent once) is the notifier's part.
 *
 * Pending events are read per adapter (index `job_events_pending (adapter, id)`): a notifier
 * reads only what its sinks can post, so nothing of another adapter stands in its way.
 */
interface EventRow {
  id: number;
  job_id: number;
  type: string;
  adapter: string;
  guild_id: string | null;
  channel_id: string;
  kind: string;
  state: string;
  title: string;
  requester_id: string;
  requester_name: string;
  job_attempts: number;
  max_attempts: number;
  recovered: number;
  cancel_requested: number;
  run_at: number;
  started_at: number | null;
  finished_at: number | null;
  progress_step: string | null;
  progress_fraction: number | null;
  result: string | null;
  error_code: string | null;
  error_message: string | null;
  created_at: number;
  delivered_at: number | null;
  attempts: number;
  last_error: string | null;
  /** From the job row. */
  request_id: string;
}

/** A delivery error is kept for diagnosis; cut, so a failing chat never grows a row past its size. */
export const LAST_ERROR_BYTES = 100;

// The request id lives once, in the job row (it never changes): an event does not repeat it.
// Exported for the test that pins their query plans.
export const PENDING_SQL = `SELECT e.*, j.request_id FROM job_events e JOIN jobs j ON j.id = e.job_id
  WHERE e.adapter = ? AND e.delivered_at IS NULL AND e.id > ? ORDER BY e.id LIMIT ?`;
export const PENDING_OF_JOB_SQL = `SELECT e.*, j.request_id FROM job_events e JOIN jobs j ON j.id = e.job_id
  WHERE e.job_id = ? AND e.id > ? AND e.delivered_at IS NULL ORDER BY e.id`;
export const PENDING_BY_ADAPTER_SQL = `SELECT adapter, count(*) AS n FROM job_events WHERE delivered_at IS NULL GROUP BY adapter`;
const DELIVERED = `UPDATE job_events SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL`;
const ATTEMPT_FAILED = `UPDATE job_events SET attempts = attempts + 1, last_error = ? WHERE id = ?`;
const EXISTS = `SELECT 1 FROM job_events WHERE id = ?`;

function rowToEvent(r: EventRow): JobEvent {
  return {
    id: r.id,
    jobId: r.job_id,
    type: r.type as JobEventType,
    job: {
      id: r.job_id,
      requestId: r.request_id,
      kind: r.kind as JobKind,
      state: r.state as JobState,
      title: r.title,
      requester: { id: r.requester_id, name: r.requester_name },
      notify: { adapter: r.adapter, guildId: r.guild_id, channelId: r.channel_id },
      attempts: r.job_attempts,
      maxAttempts: r.max_attempts,
      recovered: r.recovered === 1,
      cancelRequested: r.cancel_requested === 1,
      runAt: r.run_at,
      updatedAt: r.created_at,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      progress: r.progress_step === null ? null : r.progress_fraction === null ? { step: r.progress_step } : { step: r.progress_step, fraction: r.progress_fraction },
      result: r.result,
      error: r.error_code === null ? null : { code: errorCode(r.error_code), message: r.error_message ?? '' },
    },
    createdAt: r.created_at,
    deliveredAt: r.delivered_at,
    attempts: r.attempts,
    lastError: r.last_error,
  };
}

export class SqliteOutbox implements Outbox {
  readonly #pending;
  readonly #pendingOfJob;
  readonly #pendingByAdapter;
  readonly #delivered;
  readonly #attemptFailed;
  readonly #exists;

  constructor(private readonly ctx: StoreContext) {
    this.#pending = ctx.db.prepare<[string, number, number], EventRow>(PENDING_SQL);
    this.#pendingOfJob = ctx.db.prepare<[number, number], EventRow>(PENDING_OF_JOB_SQL);
    this.#pendingByAdapter = ctx.db.prepare<[], { adapter: string; n: number }>(PENDING_BY_ADAPTER_SQL);
    this.#delivered = ctx.db.prepare<[number, number]>(DELIVERED);
    this.#attemptFailed = ctx.db.prepare<[string, number]>(ATTEMPT_FAILED);
    this.#exists = ctx.db.prepare<[number]>(EXISTS);
  }

  pending(adapter: string, limit: number, afterId = 0): JobEvent[] {
    return this.#pending.all(adapter, afterId, limit).map(rowToEvent);
  }

  pendingOfJob(jobId: number, afterId: number): JobEvent[] {
    return this.#pendingOfJob.all(jobId, afterId).map(rowToEvent);
  }

  pendingByAdapter(): Map<string, number> {
    return new Map(this.#pendingByAdapter.all().map((r) => [r.adapter, r.n]));
  }

  /**
   * Idempotent: marking an already delivered event again changes nothing. Throws `db-busy` when
   * the database is locked or full (nothing written): the notifier retries it until it lands.
   */
  markDelivered(eventId: number): void {
    reportingBusy(() => {
      if (this.#delivered.run(this.ctx.now(), eventId).changes === 0) this.#mustExist(eventId);
    });
  }

  markAttemptFailed(eventId: number, error: string): void {
    reportingBusy(() => {
      if (this.#attemptFailed.run(cutUtf8(error, LAST_ERROR_BYTES), eventId).changes === 0) this.#mustExist(eventId);
    });
  }

  #mustExist(eventId: number): void {
    if (!this.#exists.get(eventId)) throw new KvmopsError('invalid-input', `no job event ${eventId}`, { details: { eventId } });
  }
}
