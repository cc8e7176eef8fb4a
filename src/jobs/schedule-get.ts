import type { Database } from 'better-sqlite3';
import { rowToSchedule, type ScheduleRow } from './schedule-list.js';
import type { Schedule } from './types.js';

/** One schedule by id (its primary key). */
export function getScheduleOp(db: Database): (id: number) => Schedule | undefined {
  const get = db.prepare<[number], ScheduleRow>(`SELECT * FROM schedules WHERE id = ?`);
  return (id) => {
    const row = get.get(id);
    return row && rowToSchedule(row);
  };
}
