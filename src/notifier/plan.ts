import type { JobEventType, JobSnapshot } from '../jobs/types.js';

/**
 * The coalescing policy, pure: given the undelivered event types of one job (oldest first),
 * when was its status message last edited, and now — deliver now, or wait.
 *
 * One status edit with the newest snapshot covers every pending event of the job. Progress-only
 * batches wait until `minProgressEditMs` after the last edit (Discord rate-limits edits per
 * channel); anything that changes the state goes at once.
 */

export const FINAL_EVENT_TYPES: ReadonlySet<JobEventType> = new Set<JobEventType>(['succeeded', 'failed', 'cancelled']);

export type DeliveryPlan = { action: 'deliver'; announce: boolean } | { action: 'wait'; until: number };

export function planDelivery(
  types: readonly JobEventType[],
  opts: { lastEditAt: number | undefined; now: number; minProgressEditMs: number },
): DeliveryPlan {
  const announce = types.some((t) => FINAL_EVENT_TYPES.has(t));
  const progressOnly = types.length > 0 && types.every((t) => t === 'progress');
  if (progressOnly && opts.lastEditAt !== undefined) {
    const until = opts.lastEditAt + opts.minProgressEditMs;
    if (opts.now < until) return { action: 'wait', until };
  }
  return { action: 'deliver', announce };
}

/**
 * Events that may mean the job's approval was decided or expired (then `approvalChanged`).
 * Each event carries the job as it was at that change: approve → `queued`, reject →
 * `cancelled`, both before the job ever ran — judged per event, not by the newest snapshot,
 * since a batch may already hold the approved job's `running` too.
 */
export function mayHaveSettledApproval(events: ReadonlyArray<{ type: JobEventType; job: Pick<JobSnapshot, 'startedAt'> }>): boolean {
  return events.some(
    (e) =>
      e.type === 'approval_expired' ||
      ((e.type === 'queued' || e.type === 'cancelled') && e.job.startedAt === null),
  );
}
