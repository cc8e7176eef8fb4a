/**
 * Delay before retrying a failed delivery: capped exponential with full jitter in the upper
 * half (so a chat platform coming back is not hit by every job at the same instant).
 * `failures` counts consecutive failures, 1 for the first.
 */
export interface DeliveryBackoff {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_DELIVERY_BACKOFF: DeliveryBackoff = { baseMs: 1_000, maxMs: 60_000 };

export function deliveryDelay(failures: number, policy: DeliveryBackoff = DEFAULT_DELIVERY_BACKOFF, random: () => number = Math.random): number {
  const exp = policy.baseMs * 2 ** Math.min(Math.max(0, failures - 1), 30);
  const capped = Math.min(policy.maxMs, exp);
  return Math.round(capped / 2 + (capped / 2) * random());
}
