import { KvmopsError } from '../domain/errors.js';
import { immediate, type StoreContext } from './context.js';
import { rowToSchedule, type ScheduleRow } from './schedule-list.js';
import type { Schedule } from './types.js';

/**
 * `/schedule delete`: the schedule goes, and with it (ON DELETE CASCADE) its open runs and its
 * records of what it made — so no later run and no retention happens. The snapshots it made stay
 * on the hosts, and their jobs stay in /job list. Its id is never handed out again
 * (AUTOINCREMENT), so no new schedule ever takes its `auto-<id>-` snapshots for its own.
 */
export function deleteScheduleOp(ctx: StoreContext): (id: number) => Schedule {
  const del = ctx.db.prepare<[number], ScheduleRow>(`DELETE FROM schedules WHERE id = ? RETURNING *`);
  return immediate(ctx.db, (id: number): Schedule => {
    const row = del.get(id);
    if (!row) throw new KvmopsError('schedule-not-found', `There is no schedule #${id}. See /schedule list.`, { details: { id } });
    return rowToSchedule(row);
  });
}
