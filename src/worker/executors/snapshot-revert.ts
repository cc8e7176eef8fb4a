import type { Executor } from './types.js';

/**
 * No recovery check: reverting is idempotent in effect (reverting again to the same snapshot
 * gives the same state), and a revert cut short must be redone, not skipped.
 */
export const snapshotRevert: Executor<'snapshot.revert'> = async (p, ctx) => {
  ctx.progress({ step: `reverting ${p.vm} to ${p.name}` });
  await ctx.host.revertSnapshot({ vm: p.vm, name: p.name }, { signal: ctx.signal, onProgress: ctx.progress });
  return { reverted: { vm: p.vm, snapshot: p.name } };
};
