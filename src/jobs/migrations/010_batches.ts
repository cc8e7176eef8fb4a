/**
 * Batches (a VM pattern: `/snapshot create vm:web-*`): one job per matched VM, enqueued together
 * in one transaction, sharing `batch_id` — the id of the batch's first job (its lead: the job
 * whose approval request carries the batch's one ✅/❌). NULL for a job on its own. The partial
 * index serves "the jobs of this batch" (`/job status`, one approval deciding them all) and
 * stays as small as the batched jobs. Self-contained DDL.
 */
export const batches = `
ALTER TABLE jobs ADD COLUMN batch_id INTEGER;
CREATE INDEX jobs_batch ON jobs (batch_id, id) WHERE batch_id IS NOT NULL;
`;
