/**
 * Per-user token bucket: `capacity` at once, refilled evenly over `windowMs`. The router keeps
 * two: one for commands that change things (default 30 per minute: KVMOPS_RATE_LIMIT) and one
 * for reads (default 60 per minute: KVMOPS_READ_RATE_LIMIT) — a list reads the host fresh, a
 * whole scan of it, so a flood of reads is a load on the host like a flood of writes. In
 * memory on purpose: a restart forgives, which is fine for a flood guard.
 */
export interface RateLimitOptions {
  capacity?: number;
  windowMs?: number;
}

export const DEFAULT_RATE_LIMIT = { capacity: 30, windowMs: 60_000 } as const;
export const DEFAULT_READ_RATE_LIMIT = { capacity: 60, windowMs: 60_000 } as const;

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly capacity: number;
  readonly windowMs: number;
  private readonly buckets = new Map<string, Bucket>();

  constructor(opts: RateLimitOptions = {}) {
    this.capacity = opts.capacity ?? DEFAULT_RATE_LIMIT.capacity;
    this.windowMs = opts.windowMs ?? DEFAULT_RATE_LIMIT.windowMs;
  }

  /** Takes a token for `key`; `{ ok: false, retryAfterMs }` when the bucket is empty. */
  take(key: string, now: number): { ok: true } | { ok: false; retryAfterMs: number } {
    const rate = this.capacity / this.windowMs; // tokens per ms
    const b = this.buckets.get(key) ?? { tokens: this.capacity, at: now };
    b.tokens = Math.min(this.capacity, b.tokens + Math.max(0, now - b.at) * rate);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil((1 - b.tokens) / rate) };
  }

  /** Forget full buckets (call now and then; keeps the map small). */
  sweep(now: number): void {
    const rate = this.capacity / this.windowMs;
    for (const [k, b] of this.buckets) if (b.tokens + (now - b.at) * rate >= this.capacity) this.buckets.delete(k);
  }
}
