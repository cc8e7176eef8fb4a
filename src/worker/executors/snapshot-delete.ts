import type { Executor } from './types.js';

/** Recovered and the snapshot is gone: the earlier attempt deleted it → succeed. */
export const snapshotDelete: Executor<'snapshot.delete'> = async (p, ctx) => {
  const op = { signal: ctx.signal, onProgress: ctx.progress };
  if (ctx.recovered) {
    const exists = (await ctx.host.listSnapshots(p.vm, op)).some((s) => s.name === p.name);
    if (!exists) return { deleted: { vm: p.vm, snapshot: p.name }, alreadyGone: true };
  }
  ctx.progress({ step: `deleting snapshot ${p.name}` });
  await ctx.host.deleteSnapshot({ vm: p.vm, name: p.name }, op);
  return { deleted: { vm: p.vm, snapshot: p.name } };
};
