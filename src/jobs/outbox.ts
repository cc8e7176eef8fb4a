import { KvmopsError } from '../domain/errors.js';
import { reportingBusy } from './busy.js';
import type { StoreContext } from './context.js';
import type { Job, JobEvent, JobEventType, Outbox } from './types.js';

/**
 * The read side of the job_events outbox (the write side is `StoreContext.event`, called inside
 * every change's transaction). Delivery is at-least-once from here: the notifier marks an event
 * delivered after the chat accepted it; making that exactly-once for users (an edit of the
 * status message is idempotent, a "finished" mention is sent once) is the notifier's part.
 */
interface EventRow {
  id: number;
  job_id: number;
  type: string;
  job: string;
  created_at: number;
  delivered_at: number | null;
  attempts: number;
  last_error: string | null;
}

const PENDING = `SELECT * FROM job_events WHERE delivered_at IS NULL ORDER BY id LIMIT ?`;
const DELIVERED = `UPDATE job_events SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL`;
const ATTEMPT_FAILED = `UPDATE job_events SET attempts = attempts + 1, last_error = ? WHERE id = ?`;
const EXISTS = `SELECT 1 FROM job_events WHERE id = ?`;

export class SqliteOutbox implements Outbox {
  readonly #pending;
  readonly #delivered;
  readonly #attemptFailed;
  readonly #exists;

  constructor(private readonly ctx: StoreContext) {
    this.#pending = ctx.db.prepare<[number], EventRow>(PENDING);
    this.#delivered = ctx.db.prepare<[number, number]>(DELIVERED);
    this.#attemptFailed = ctx.db.prepare<[string, number]>(ATTEMPT_FAILED);
    this.#exists = ctx.db.prepare<[number]>(EXISTS);
  }

  pending(limit: number): JobEvent[] {
    return this.#pending.all(limit).map((r) => ({
      id: r.id,
      jobId: r.job_id,
      type: r.type as JobEventType,
      job: JSON.parse(r.job) as Job,
      createdAt: r.created_at,
      deliveredAt: r.delivered_at,
      attempts: r.attempts,
      lastError: r.last_error,
    }));
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
      if (this.#attemptFailed.run(error, eventId).changes === 0) this.#mustExist(eventId);
    });
  }

  #mustExist(eventId: number): void {
    if (!this.#exists.get(eventId)) throw new KvmopsError('invalid-input', `no job event ${eventId}`, { details: { eventId } });
  }
}
