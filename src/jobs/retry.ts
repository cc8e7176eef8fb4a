import { setTimeout as sleep } from 'node:timers/promises';
import { isKvmopsError, type KvmopsError } from '../domain/errors.js';
import { retryDelay, type BackoffPolicy } from './backoff.js';

/**
 * Waiting out a busy database without blocking the event loop. A store call that meets another
 * process's write lock (or a full disk) fails at once with `db-busy` (db.ts keeps busy_timeout
 * to a few ms); the callers that must not lose the write — a job's result, a notification's
 * delivered mark, an approval decision, an enqueue — wrap it here: it is tried again after a
 * timer (capped exponential backoff with jitter), while everything else in the process goes on.
 *
 * Only `db-busy` is retried: it guarantees that nothing was written, so trying again can never
 * write twice. Any other error is thrown at once.
 */
export interface BusyRetryOptions {
  /** Give up (throw the last `db-busy`) once this long has passed. Default: never — until it lands. */
  maxWaitMs?: number;
  /** Default 10 ms doubling up to 500 ms: quick after a short lock, gentle under a long one. */
  backoff?: BackoffPolicy;
  /** Stops the waiting: the pending sleep rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called before each wait (for a log line: the first retry is worth a warning). */
  onRetry?: (error: KvmopsError, retry: number, delayMs: number) => void;
  random?: () => number;
}

export const BUSY_BACKOFF: BackoffPolicy = { baseMs: 10, capMs: 500 };

export async function retryWhileBusy<T>(write: () => T | Promise<T>, opts: BusyRetryOptions = {}): Promise<T> {
  const started = Date.now();
  const maxWaitMs = opts.maxWaitMs ?? Infinity;
  for (let retry = 1; ; retry++) {
    opts.signal?.throwIfAborted();
    try {
      return await write();
    } catch (e) {
      if (!isKvmopsError(e, 'db-busy')) throw e;
      const delayMs = retryDelay(retry, opts.backoff ?? BUSY_BACKOFF, opts.random ?? Math.random);
      if (Date.now() - started + delayMs > maxWaitMs) throw e;
      opts.onRetry?.(e, retry, delayMs);
      await sleep(delayMs, undefined, opts.signal ? { signal: opts.signal } : {});
    }
  }
}
