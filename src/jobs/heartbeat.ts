import { immediate, type StoreContext } from './context.js';
import { HELD_BY_LEASE, leaseLost, leaseParams } from './lease.js';
import type { Lease } from './types.js';

const HEARTBEAT = `
UPDATE jobs SET lease_expires_at = @now + @leaseMs, updated_at = @now
WHERE ${HELD_BY_LEASE}
RETURNING cancel_requested`;

/**
 * Extends the lease. Tells the worker whether a cancel was requested, so the heartbeat loop is
 * also how a running job learns it must stop. Writes no event: nothing a user sees changed.
 */
export function heartbeatOp(ctx: StoreContext): (lease: Lease, leaseMs: number) => { cancelRequested: boolean } {
  const heartbeat = ctx.db.prepare(HEARTBEAT);
  return immediate(ctx.db, (lease: Lease, leaseMs: number) => {
    const row = heartbeat.get({ ...leaseParams(lease), leaseMs, now: ctx.now() }) as { cancel_requested: number } | undefined;
    if (!row) throw leaseLost(ctx.db, lease);
    return { cancelRequested: row.cancel_requested === 1 };
  });
}
