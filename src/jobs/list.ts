import type { Database } from './db.js';
import { rowToJob, type JobRow } from './rows.js';
import type { Job, JobFilter } from './types.js';

/**
 * `/job list` (and the worker's due scan, `state: 'queued'`): newest first, one statement per
 * filter combination, each on its own index, so a list reads about `limit` rows whatever the
 * history holds. (One statement with `(@x IS NULL OR col = @x)` hides every index from the
 * planner: it walked the whole table backwards, 200 ms at 1 M jobs.) Their plans are pinned by
 * test/jobs/query-plans.test.ts.
 */
export const LIST_SQL = {
  /** Walks the primary key from the top: reads `limit` rows. */
  all: `SELECT * FROM jobs ORDER BY id DESC LIMIT @limit`,
  /** jobs_state (state, id) */
  state: `SELECT * FROM jobs WHERE state = @state ORDER BY id DESC LIMIT @limit`,
  /** jobs_requester (requester_id, id) */
  requester: `SELECT * FROM jobs WHERE requester_id = @requesterId ORDER BY id DESC LIMIT @limit`,
  /** jobs_requester_state (requester_id, state, id) */
  requesterState: `SELECT * FROM jobs WHERE requester_id = @requesterId AND state = @state ORDER BY id DESC LIMIT @limit`,
} as const;

export const DEFAULT_LIST_LIMIT = 50;

export function listOp(db: Database): (filter?: JobFilter) => Job[] {
  const s = {
    all: db.prepare<{ limit: number }, JobRow>(LIST_SQL.all),
    state: db.prepare<{ state: string; limit: number }, JobRow>(LIST_SQL.state),
    requester: db.prepare<{ requesterId: string; limit: number }, JobRow>(LIST_SQL.requester),
    requesterState: db.prepare<{ requesterId: string; state: string; limit: number }, JobRow>(LIST_SQL.requesterState),
  };
  return (filter = {}) => {
    const limit = filter.limit ?? DEFAULT_LIST_LIMIT;
    const { state, requesterId } = filter;
    const rows =
      state !== undefined && requesterId !== undefined
        ? s.requesterState.all({ requesterId, state, limit })
        : state !== undefined
          ? s.state.all({ state, limit })
          : requesterId !== undefined
            ? s.requester.all({ requesterId, limit })
            : s.all.all({ limit });
    return rows.map(rowToJob);
  };
}
