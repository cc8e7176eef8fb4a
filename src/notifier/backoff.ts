import { retryDelay } from '../jobs/backoff.js';

/**
 * Delay before retrying a failed delivery: the job queue's capped exponential backoff with
 * equal jitter (src/jobs/backoff.ts), so a chat platform coming back is not hit by every job at
 * the same instant. `failures` counts consecutive failures, 1 for the first.
 */
export interface DeliveryBackoff {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_DELIVERY_BACKOFF: DeliveryBackoff = { baseMs: 1_000, maxMs: 60_000 };

export function deliveryDelay(failures: number, policy: DeliveryBackoff = DEFAULT_DELIVERY_BACKOFF, random: () => number = Math.random): number {
  return retryDelay(failures, { baseMs: policy.baseMs, capMs: policy.maxMs }, random);
}
