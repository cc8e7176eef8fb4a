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
  all: `SELECT * FROM jobs ORDER BY id DESC LIMIT @limit OFFSET @offset`,
  /** jobs_state (state, id) */
  state: `SELECT * FROM jobs WHERE state = @state ORDER BY id DESC LIMIT @limit OFFSET @offset`,
  /** jobs_requester (requester_id, id) */
  requester: `SELECT * FROM jobs WHERE requester_id = @requesterId ORDER BY id DESC LIMIT @limit OFFSET @offset`,
  /** jobs_requester_state (requester_id, state, id) */
  requesterState: `SELECT * FROM jobs WHERE requester_id = @requesterId AND state = @state ORDER BY id DESC LIMIT @limit OFFSET @offset`,
} as const;

/**
 * How many jobs match a list's filter, for "showing 21–40 of N": the same indexes, counted up to
 * a cap (a count walks every matching row; at a million jobs an uncapped one would cost ~100 ms
 * on every /job list). Beyond the cap the list says "of more than 10,000".
 */
export const LIST_COUNT_CAP = 10_000;
const capped = (where: string) => `SELECT count(*) AS n FROM (SELECT 1 FROM jobs ${where} LIMIT ${LIST_COUNT_CAP + 1})`;
export const COUNT_SQL = {
  all: capped(''),
  state: capped('WHERE state = @state'),
  requester: capped('WHERE requester_id = @requesterId'),
  requesterState: capped('WHERE requester_id = @requesterId AND state = @state'),
} as const;

export const DEFAULT_LIST_LIMIT = 50;

/** A count of a list's matches: exact up to LIST_COUNT_CAP, then `capped`. */
export interface ListCount {
  total: number;
  capped: boolean;
}

export function countOp(db: Database): (filter?: Omit<JobFilter, 'limit' | 'offset'>) => ListCount {
  const s = {
    all: db.prepare<[], { n: number }>(COUNT_SQL.all),
    state: db.prepare<{ state: string }, { n: number }>(COUNT_SQL.state),
    requester: db.prepare<{ requesterId: string }, { n: number }>(COUNT_SQL.requester),
    requesterState: db.prepare<{ requesterId: string; state: string }, { n: number }>(COUNT_SQL.requesterState),
  };
  return (filter = {}) => {
    const { state, requesterId } = filter;
    const n =
      state !== undefined && requesterId !== undefined
        ? s.requesterState.get({ requesterId, state })!.n
        : state !== undefined
          ? s.state.get({ state })!.n
          : requesterId !== undefined
            ? s.requester.get({ requesterId })!.n
            : s.all.get()!.n;
    return n > LIST_COUNT_CAP ? { total: LIST_COUNT_CAP, capped: true } : { total: n, capped: false };
  };
}

export function listOp(db: Database): (filter?: JobFilter) => Job[] {
  const s = {
    all: db.prepare<{ limit: number; offset: number }, JobRow>(LIST_SQL.all),
    state: db.prepare<{ state: string; limit: number; offset: number }, JobRow>(LIST_SQL.state),
    requester: db.prepare<{ requesterId: string; limit: number; offset: number }, JobRow>(LIST_SQL.requester),
    requesterState: db.prepare<{ requesterId: string; state: string; limit: number; offset: number }, JobRow>(LIST_SQL.requesterState),
  };
  return (filter = {}) => {
    const limit = filter.limit ?? DEFAULT_LIST_LIMIT;
    const offset = filter.offset ?? 0;
    const { state, requesterId } = filter;
    const rows =
      state !== undefined && requesterId !== undefined
        ? s.requesterState.all({ requesterId, state, limit, offset })
        : state !== undefined
          ? s.state.all({ state, limit, offset })
          : requesterId !== undefined
            ? s.requester.all({ requesterId, limit, offset })
            : s.all.all({ limit, offset });
    return rows.map(rowToJob);
  };
}
