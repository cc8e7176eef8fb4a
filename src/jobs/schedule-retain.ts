import { immediate, type StoreContext } from './context.js';
import type { MadeSnapshot, ScheduleRun } from './types.js';

const TAKE = `DELETE FROM schedule_runs WHERE id = ?`;
const RECORD = `
INSERT OR IGNORE INTO schedule_snapshots (schedule_id, host, vm_uuid, vm, name, created_at, job_id)
VALUES (@scheduleId, @host, @vmUuid, @vm, @name, @createdAt, @jobId)`;

/**
 * A run's retention is taken by deleting its row (compare-and-set: one caller gets 1 change,
 * every other 0), and what the run made is recorded in the same transaction. A crash after it
 * loses only this run's deletes: the next run's retention counts every record again and deletes
 * what is still beyond `keep`. A schedule deleted meanwhile took its runs with it: nothing here.
 */
export function retainRunOp(ctx: StoreContext): (run: ScheduleRun, made: MadeSnapshot[]) => boolean {
  const take = ctx.db.prepare<[number]>(TAKE);
  const record = ctx.db.prepare(RECORD);
  return immediate(ctx.db, (run: ScheduleRun, made: MadeSnapshot[]): boolean => {
    if (take.run(run.id).changes !== 1) return false;
    for (const m of made) record.run({ scheduleId: run.scheduleId, ...m });
    return true;
  });
}
