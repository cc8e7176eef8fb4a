import type { Database } from 'better-sqlite3';
import type { MadeSnapshot } from './types.js';

interface MadeRow {
  host: string;
  vm_uuid: string;
  vm: string;
  name: string;
  created_at: number;
  job_id: number;
}

/** What a schedule made on one VM, newest first (`schedule_snapshots_age`; ≤ keep + a few rows). */
export const MADE_SQL = `
SELECT host, vm_uuid, vm, name, created_at, job_id FROM schedule_snapshots
WHERE schedule_id = ? AND host = ? AND vm_uuid = ? ORDER BY created_at DESC, name DESC`;

export function madeSnapshotsOp(db: Database): (scheduleId: number, host: string, vmUuid: string) => MadeSnapshot[] {
  const list = db.prepare<[number, string, string], MadeRow>(MADE_SQL);
  return (scheduleId, host, vmUuid) =>
    list.all(scheduleId, host, vmUuid).map((r) => ({ host: r.host, vmUuid: r.vm_uuid, vm: r.vm, name: r.name, createdAt: r.created_at, jobId: r.job_id }));
}
