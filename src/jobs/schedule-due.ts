import type { Database } from 'better-sqlite3';
import { rowToSchedule, type ScheduleRow } from './schedule-list.js';
import type { Schedule } from './types.js';

/** The scheduler's look on every tick: schedules due now, soonest first, on `schedules_due`. */
export const DUE_SCHEDULES_SQL = `SELECT * FROM schedules INDEXED BY schedules_due WHERE next_run_at <= ? ORDER BY next_run_at LIMIT ?`;

export function dueSchedulesOp(db: Database): (now: number, limit: number) => Schedule[] {
  const due = db.prepare<[number, number], ScheduleRow>(DUE_SCHEDULES_SQL);
  return (now, limit) => due.all(now, limit).map(rowToSchedule);
}
