import { KvmopsError } from '../domain/errors.js';
import { immediate, type StoreContext } from './context.js';
import { checkRequest, insertJobOp } from './enqueue.js';
import type { EnqueueRequest, Job } from './types.js';

/** The lead's own id becomes the batch id: known only once its row exists. */
const MARK_LEAD = `UPDATE jobs SET batch_id = id WHERE id = ?`;

/**
 * A batch (a VM pattern): one job per request, all in ONE IMMEDIATE transaction — all or none.
 * A refusal of any one (`duplicate-job`, `name-taken`, a payload its kind refuses) rolls every
 * job of the batch back. The first job is the lead: its id is every job's `batch_id`. Each job
 * keeps its own resources (so each VM is pinned and locked as a single job would be), its own
 * approval row when its kind needs one (decided together: approvals.ts), and its own events.
 * `along` writes more in the same transaction (a schedule's run records its batch: a crash
 * leaves both or neither).
 */
export function enqueueBatchOp(ctx: StoreContext): (reqs: EnqueueRequest[], along?: (jobs: Job[]) => void) => Job[] {
  const insert = insertJobOp(ctx);
  const markLead = ctx.db.prepare<[number]>(MARK_LEAD);
  const tx = immediate(ctx.db, (reqs: EnqueueRequest[], payloads: Array<Record<string, unknown>>, along?: (jobs: Job[]) => void): Job[] => {
    const lead = { ...insert(reqs[0]!, payloads[0]!, null) };
    markLead.run(lead.id);
    lead.batchId = lead.id;
    const jobs = [lead, ...reqs.slice(1).map((req, i) => insert(req, payloads[i + 1]!, lead.id))];
    along?.(jobs);
    return jobs;
  });
  return (reqs, along) => {
    if (reqs.length === 0) throw new KvmopsError('invalid-input', 'a batch needs at least one job');
    return tx(reqs, reqs.map(checkRequest), along);
  };
}

/**
 * One more job for a batch that exists (a schedule's run: its retention's snapshot deletes join
 * the run's batch once its snapshots are taken, so a run keeps ONE status message). Its own
 * transaction: a refusal (`duplicate-job` — the same delete still live from an earlier run)
 * refuses this job alone. `job-not-found` when the lead is gone (pruned).
 */
export function enqueueIntoBatchOp(ctx: StoreContext): (batchId: number, req: EnqueueRequest) => Job {
  const insert = insertJobOp(ctx);
  const lead = ctx.db.prepare<[number], 1>(`SELECT 1 FROM jobs WHERE id = ? AND batch_id = id`).pluck();
  const tx = immediate(ctx.db, (batchId: number, req: EnqueueRequest, payload: Record<string, unknown>): Job => {
    if (lead.get(batchId) === undefined) throw new KvmopsError('job-not-found', `no batch #${batchId}`, { details: { jobId: batchId } });
    return insert(req, payload, batchId);
  });
  return (batchId, req) => tx(batchId, req, checkRequest(req));
}
