import type { Database } from './db.js';
import { rowToJob, type JobRow } from './rows.js';
import type { Job } from './types.js';

/** The jobs of a batch in id order (lead first), on `jobs_batch` (migration 010): ≤ KVMOPS_MAX_BATCH rows. */
export const BATCH_SQL = `SELECT * FROM jobs INDEXED BY jobs_batch WHERE batch_id = ? ORDER BY id`;

export function batchOp(db: Database): (batchId: number) => Job[] {
  const select = db.prepare<[number], JobRow>(BATCH_SQL);
  return (batchId) => select.all(batchId).map(rowToJob);
}
