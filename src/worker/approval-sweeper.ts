import { isKvmopsError } from '../domain/errors.js';
import { stderrLogger, type Logger } from '../domain/logger.js';

/** The slice of the store the sweeper needs (`store.approvals`). */
export interface ApprovalExpiry {
  /** Expires every pending approval past its expiry (→ job cancelled, outbox event); returns them. */
  expireDue(now: number): unknown[];
}

/**
 * Expires approval requests past KVMOPS_APPROVAL_TTL. Expiry is decided in SQLite (atomic and
 * final, like approve/reject), so a sweep that runs late or twice is harmless; the notifier
 * reports the expiry from the outbox.
 */
export class ApprovalSweeper {
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly log: Logger;

  constructor(
    private readonly approvals: ApprovalExpiry,
    private readonly opts: { everyMs?: number; logger?: Logger; now?: () => number } = {},
  ) {
    this.log = opts.logger ?? stderrLogger;
  }

  start(): void {
    if (this.timer) return;
    this.sweep();
    this.timer = setInterval(() => this.sweep(), this.opts.everyMs ?? 15_000);
    this.timer.unref();
  }

  sweep(): number {
    try {
      const expired = this.approvals.expireDue((this.opts.now ?? Date.now)());
      if (expired.length) this.log.info({ count: expired.length }, 'approvals expired');
      return expired.length;
    } catch (e) {
      // A database held by another process: the next sweep expires them (expiry is idempotent).
      if (isKvmopsError(e, 'db-busy')) this.log.warn({ err: e }, 'approval sweep skipped: the database is busy');
      else this.log.error({ err: e }, 'approval sweep failed');
      return 0;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
