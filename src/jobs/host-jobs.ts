import type { Database } from 'better-sqlite3';

export interface HostJobCounts {
  host: string;
  queued: number;
  running: number;
}

/**
 * Live jobs per host (`/host list|info`, /metrics): queued ones through `jobs_claimable`, running
 * ones through `jobs_host_running` — both partial indexes hold live jobs only, so the cost
 * follows the queue, never the history.
 */
export const HOST_JOBS_SQL = {
  // counted here rather than by GROUP BY, which would sort: the queue is read once either way
  queued: `SELECT host FROM jobs INDEXED BY jobs_claimable WHERE state = 'queued'`,
  running: `SELECT host, COUNT(*) AS n FROM jobs INDEXED BY jobs_host_running WHERE state = 'running' GROUP BY host`,
} as const;

export function hostJobCountsOp(db: Database): () => HostJobCounts[] {
  const queued = db.prepare<[], { host: string }>(HOST_JOBS_SQL.queued);
  const running = db.prepare<[], { host: string; n: number }>(HOST_JOBS_SQL.running);
  return db.transaction(() => {
    const out = new Map<string, HostJobCounts>();
    const at = (host: string) => out.get(host) ?? out.set(host, { host, queued: 0, running: 0 }).get(host)!;
    for (const r of queued.iterate()) at(r.host).queued++;
    for (const r of running.all()) at(r.host).running = r.n;
    return [...out.values()];
  });
}
