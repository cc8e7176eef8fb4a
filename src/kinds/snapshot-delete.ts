import { onlyVm } from '../domain/resources.js';
import { defineKind, onHost, opOf } from './kind.js';
import { snapshotRefPayload } from './snapshot-ref.js';

/** Delete a snapshot; an external one's overlay is merged. */
export const snapshotDelete = defineKind({
  name: 'snapshot.delete',
  payload: snapshotRefPayload,
  needsApproval: false,
  resources: onlyVm,
  describe: (p) => `Delete snapshot ${p.name} of ${p.vm} ${onHost(p)}`,
  summary: (r) => `deleted${r.alreadyGone ? ' (already gone)' : ''}`,
  // Gone: the earlier attempt deleted it.
  recover: async (p, ctx) =>
    (await ctx.host.listSnapshots(p.vm, opOf(ctx))).some((s) => s.name === p.name)
      ? undefined
      : { deleted: { vm: p.vm, snapshot: p.name }, alreadyGone: true },
  execute: async (p, ctx) => {
    ctx.progress({ step: `deleting snapshot ${p.name}` });
    await ctx.host.deleteSnapshot({ vm: p.vm, name: p.name }, opOf(ctx));
    return { deleted: { vm: p.vm, snapshot: p.name } };
  },
});
