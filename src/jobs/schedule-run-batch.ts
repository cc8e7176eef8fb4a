import { immediate, type StoreContext } from './context.js';

/**
 * What a run did: the run names its batch (for its retention), the schedule its last batch and a
 * few words (for /schedule list). A run that made no batch (no VM matched) keeps batch_id NULL.
 */
export function attachRunBatchOp(ctx: StoreContext): (runId: number, batchId: number | null, note: string) => void {
  const run = ctx.db.prepare<[number | null, number], number>(`UPDATE schedule_runs SET batch_id = ? WHERE id = ? RETURNING schedule_id`).pluck();
  const schedule = ctx.db.prepare<[number | null, string, number]>(`UPDATE schedules SET last_batch_id = ?, last_note = ? WHERE id = ?`);
  return immediate(ctx.db, (runId: number, batchId: number | null, note: string): void => {
    const scheduleId = run.get(batchId, runId);
    if (scheduleId !== undefined) schedule.run(batchId, note, scheduleId);
  });
}
