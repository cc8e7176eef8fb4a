import { reportingBusy } from './busy.js';
import type { StoreContext } from './context.js';

/** A record whose snapshot is gone (deleted, or another has the name now) is dropped: one statement. */
export function forgetMadeOp(ctx: StoreContext): (scheduleId: number, host: string, vmUuid: string, name: string) => void {
  const del = ctx.db.prepare<[number, string, string, string]>(`DELETE FROM schedule_snapshots WHERE schedule_id = ? AND host = ? AND vm_uuid = ? AND name = ?`);
  return (scheduleId, host, vmUuid, name) => void reportingBusy(() => del.run(scheduleId, host, vmUuid, name));
}
