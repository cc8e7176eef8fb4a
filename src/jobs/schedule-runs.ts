import type { Database } from 'better-sqlite3';
import type { ScheduleRun } from './types.js';

interface RunRow {
  id: number;
  schedule_id: number;
  at: number;
  batch_id: number | null;
}

/** Runs whose retention is still to do, oldest first (the table holds only those: a few per schedule). */
export const OPEN_RUNS_SQL = `SELECT * FROM schedule_runs ORDER BY id LIMIT ?`;

export function openRunsOp(db: Database): (limit: number) => ScheduleRun[] {
  const list = db.prepare<[number], RunRow>(OPEN_RUNS_SQL);
  return (limit) => list.all(limit).map((r) => ({ id: r.id, scheduleId: r.schedule_id, at: r.at, batchId: r.batch_id }));
}
