import type { Executor } from './types.js';

export interface RevertJobResult {
  reverted: { vm: string; snapshot: string };
  /** Present (true) when an earlier attempt of this job had already reverted: nothing was done now. */
  alreadyApplied?: true;
}

/**
 * Reverting is not idempotent in effect: a second revert throws away whatever was written since
 * the first. So the revert is asked for under the job's request id (`job-<id>`: the same on
 * every attempt — retry, release, reap after a crash or a lost success write); the host records
 * it with the revert and a repeated call with the same id does nothing (`alreadyApplied`). A
 * revert cut short (no record yet) is simply done again.
 */
export const snapshotRevert: Executor<'snapshot.revert'> = async (p, ctx) => {
  ctx.progress({ step: `reverting ${p.vm} to ${p.name}` });
  const { alreadyApplied } = await ctx.host.revertSnapshot(
    { vm: p.vm, name: p.name, requestId: revertRequestId(ctx.job.id) },
    { signal: ctx.signal, onProgress: ctx.progress },
  );
  const result: RevertJobResult = { reverted: { vm: p.vm, snapshot: p.name }, ...(alreadyApplied ? { alreadyApplied: true as const } : {}) };
  return result;
};

/** `job-<id>`: a valid name, stable across the job's attempts, unique per request. */
export function revertRequestId(jobId: number): string {
  return `job-${jobId}`;
}
