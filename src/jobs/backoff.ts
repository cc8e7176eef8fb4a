/**
 * Retry delay: exponential in the attempt number, capped, with "equal jitter" (half fixed, half
 * random) so that jobs failing together do not all come back at the same instant, while the
 * delay still grows with every attempt and never exceeds the cap.
 */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/** `attempt` is the attempt that just failed (1 for the first run). `random` is in [0, 1). */
export function retryDelay(attempt: number, policy: BackoffPolicy, random: () => number): number {
  // The exponent is clamped so that a long run of failures cannot reach 2 ** 1024 = Infinity.
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(Math.max(0, attempt - 1), 30));
  return Math.round(exp / 2 + (random() * exp) / 2);
}
