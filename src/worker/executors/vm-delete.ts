import { isKvmopsError } from '../../domain/errors.js';
import type { Executor } from './types.js';

/**
 * Recovered: deleteVm is still called first (it removes what is left of a half-deleted VM: its
 * disks, its snapshot metadata); only when the domain is already gone does `vm-not-found` mean
 * the earlier attempt finished → succeed.
 */
export const vmDelete: Executor<'vm.delete'> = async (p, ctx) => {
  ctx.progress({ step: `deleting ${p.vm}` });
  try {
    const r = await ctx.host.deleteVm(p.vm, { signal: ctx.signal, onProgress: ctx.progress });
    return { deleted: { vm: p.vm }, removed: r.removed, kept: r.kept };
  } catch (e) {
    if (ctx.recovered && isKvmopsError(e, 'vm-not-found')) return { deleted: { vm: p.vm }, alreadyGone: true };
    throw e;
  }
};
