import { isKvmopsError } from '../domain/errors.js';
import { onlyVm } from '../domain/resources.js';
import { vmChanges } from './inventory.js';
import { defineKind, onHost, opOf } from './kind.js';
import { moment } from '../domain/moment.js';
import { pinnedSnapshot, snapshotRefPayload, snapshotTargetOf } from './snapshot-ref.js';
import { pinnedVm } from './vm-ref.js';

/** Delete a snapshot; an external one's overlay is merged. */
export const snapshotDelete = defineKind({
  name: 'snapshot.delete',
  payload: snapshotRefPayload,
  needsApproval: false,
  resources: onlyVm,
  describe: (p) => `Delete snapshot ${pinnedSnapshot(p)} of ${p.vm} ${onHost(p)}`,
  pinned: (p) => [`VM ${pinnedVm(p)}`, `snapshot ${pinnedSnapshot(p, moment)}`],
  summary: (r) => `deleted${r.alreadyGone ? ' (already gone)' : ''}${r.notTouched ? `; ${String(r.notTouched)} now has the name and was not touched` : ''}`,
  // No separate check: the pinned snapshot (or its VM) gone means the delete is done — by an
  // earlier attempt, or before a restore brought this job back; a snapshot (or VM) that has the
  // name now is another one, reported and never touched.
  recover: null,
  execute: async (p, ctx) => {
    ctx.progress({ step: `deleting snapshot ${p.name}` });
    try {
      await ctx.host.deleteSnapshot(snapshotTargetOf(p), opOf(ctx));
    } catch (e) {
      if (isKvmopsError(e, 'target-gone')) return { deleted: { vm: p.vm, snapshot: p.name }, alreadyGone: true };
      if (isKvmopsError(e, 'target-changed')) return { deleted: { vm: p.vm, snapshot: p.name }, alreadyGone: true, notTouched: 'another snapshot' };
      throw e;
    }
    return { deleted: { vm: p.vm, snapshot: p.name } };
  },
  // The VM read back whole: its snapshots and disks (an external one's overlay is merged).
  inventory: (p, _r, ctx) => vmChanges(ctx, p),
});
