import type { DeployResult } from '../../hypervisor/types.js';
import type { Executor } from './types.js';

export interface DeployJobResult {
  vms: string[];
  mode: DeployResult['mode'];
  started: boolean;
}

/**
 * No state check here on recovery: the hypervisor's deploy is idempotent by contract (HostDriver
 * doc) as long as every attempt passes the same `requestId` — it keeps VMs of this batch that are
 * whole, removes and redoes half-made ones, and refuses names taken by anything else. The job id
 * is that request id: stable across retries, releases and crashes, unique per request.
 */
export const deploy: Executor<'deploy'> = async (p, ctx) => {
  ctx.progress({ step: ctx.recovered ? 'resuming deploy' : 'deploying' });
  const r = await ctx.host.deploy(
    { template: p.template, name: p.name, count: p.count, mode: p.mode, start: p.start, requestId: deployRequestId(ctx.job.id) },
    { signal: ctx.signal, onProgress: ctx.progress },
  );
  const result: DeployJobResult = { vms: r.vms, mode: r.mode, started: r.started };
  return result;
};

/** `job-<id>`: a valid name, as the hypervisor requires for request ids. */
export function deployRequestId(jobId: number): string {
  return `job-${jobId}`;
}
