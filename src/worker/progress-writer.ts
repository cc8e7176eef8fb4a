import type { JobProgress } from '../jobs/types.js';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Coalesces an executor's progress calls into at most one write per `minIntervalMs` (each write
 * is a SQLite transaction plus an outbox row, and qemu-img can report hundreds of steps a
 * second). A call inside the interval is kept as pending and written when the interval ends, so
 * the last step is never lost; `flush()` writes it at once (before the job finishes).
 *
 * `write` returns false when the step could not be written for now (the database is busy): the
 * step is kept as pending — unless a newer one arrives first — and tried again an interval later.
 * Nothing waits for it: a busy database never holds the executor up.
 */
export class ProgressWriter {
  private lastWriteAt = -Infinity;
  private pending: JobProgress | null = null;
  private timer: unknown = null;
  private closed = false;

  constructor(
    private readonly write: (p: JobProgress) => unknown,
    private readonly minIntervalMs: number,
    private readonly clock: Clock = realClock,
  ) {}

  push(p: JobProgress): void {
    if (this.closed) return;
    const now = this.clock.now();
    if (now - this.lastWriteAt >= this.minIntervalMs && this.timer === null) {
      this.doWrite(p, now);
      return;
    }
    this.pending = p;
    if (this.timer === null) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.flush();
      }, Math.max(0, this.lastWriteAt + this.minIntervalMs - now));
    }
  }

  /** Writes the pending step, if any, now. */
  flush(): void {
    if (this.timer !== null) {
      this.clock.clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.closed || this.pending === null) return;
    const p = this.pending;
    this.pending = null;
    this.doWrite(p, this.clock.now());
  }

  /** No more writes (lease lost, or the job is finished). Drops what is pending. */
  close(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.pending = null;
    this.closed = true;
  }

  private doWrite(p: JobProgress, now: number): void {
    this.lastWriteAt = now;
    if (this.write(p) !== false || this.closed) return;
    this.pending ??= p;
    if (this.timer === null) {
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.flush();
      }, this.minIntervalMs);
    }
  }
}
