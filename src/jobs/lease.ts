import type { Database } from 'better-sqlite3';
import { KvmopsError } from '../domain/errors.js';
import type { Lease } from './types.js';

/**
 * Only the holder of the current lease may touch a running job: the owner *and* the fencing
 * token must match, and the job must still be running. A worker whose lease expired and was
 * reaped (or re-claimed, which bumps the token) is refused with `lease-lost`, so a stale worker
 * can never overwrite what the new holder does. Statements bind @jobId, @owner, @token.
 */
export const HELD_BY_LEASE = `id = @jobId AND lease_owner = @owner AND lease_token = @token AND state = 'running'`;

export function leaseParams(lease: Lease): { jobId: number; owner: string; token: number } {
  return { jobId: lease.jobId, owner: lease.owner, token: lease.token };
}

/** The `lease-lost` error, saying what became of the job (for the worker's log). */
export function leaseLost(db: Database, lease: Lease): KvmopsError {
  const now = db
    .prepare<[number], { state: string; lease_owner: string | null; lease_token: number }>(
      'SELECT state, lease_owner, lease_token FROM jobs WHERE id = ?',
    )
    .get(lease.jobId);
  const what = now
    ? `it is ${now.state}, lease ${now.lease_owner ?? '-'}#${now.lease_token}`
    : 'it does not exist';
  return new KvmopsError('lease-lost', `job ${lease.jobId}: lease ${lease.owner}#${lease.token} is no longer held (${what})`, {
    details: { jobId: lease.jobId, state: now?.state ?? null },
  });
}

/** For operations that must read the held job before deciding (inside their IMMEDIATE transaction). */
export const SELECT_HELD = `SELECT * FROM jobs WHERE ${HELD_BY_LEASE}`;
