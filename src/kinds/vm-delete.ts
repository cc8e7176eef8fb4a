import { isKvmopsError } from '../domain/errors.js';
import { onlyVm } from '../domain/resources.js';
import { defineKind, onHost, opOf } from './kind.js';
import { pinnedVm, vmPayload, vmTargetOf } from './vm-ref.js';

/** The domain, its snapshots and the files kvmops made for it. Destructive: always approved first. */
export const vmDelete = defineKind({
  name: 'vm.delete',
  payload: vmPayload,
  needsApproval: true,
  resources: onlyVm,
  describe: (p) => `Delete VM ${p.vm} ${onHost(p)}`,
  pinned: (p) => [`VM ${pinnedVm(p)}`],
  summary: (r) => {
    const removed = Array.isArray(r.removed) ? r.removed.length : 0;
    const kept = Array.isArray(r.kept) ? r.kept.length : 0;
    const unreadable = Array.isArray(r.unreadable) && r.unreadable.length > 0;
    return (
      `deleted${r.alreadyGone ? ' (already gone)' : ''}${r.notTouched ? `; ${String(r.notTouched)} now has the name and was not touched` : ''}${removed ? `, ${removed} file(s) removed` : ''}` +
      (unreadable ? `; ${kept} file(s) kept: a disk chain on the host could not be read` : '')
    );
  },
  // No separate check: deleteVm is called again on a recovered attempt, because it removes what
  // is left of a half-deleted VM (its files, its snapshot metadata). The pinned VM gone means the
  // delete is done — by an earlier attempt, by hand, or before a restore brought this job back —
  // and a VM that has the name now is another one: it is reported, never touched.
  recover: null,
  execute: async (p, ctx) => {
    ctx.progress({ step: `deleting ${p.vm}` });
    try {
      const r = await ctx.host.deleteVm(vmTargetOf(p), opOf(ctx));
      return { deleted: { vm: p.vm }, removed: r.removed, kept: r.kept, ...(r.unreadable?.length ? { unreadable: r.unreadable } : {}) };
    } catch (e) {
      if (isKvmopsError(e, 'target-gone')) return { deleted: { vm: p.vm }, alreadyGone: true };
      if (isKvmopsError(e, 'target-changed')) return { deleted: { vm: p.vm }, alreadyGone: true, notTouched: `another VM (uuid ${String(e.details.now)})` };
      throw e;
    }
  },
  // The pinned VM is gone, whatever has the name now (that one the next reconcile reads).
  inventory: async (p) => [{ type: 'vm-gone', host: p.host, uuid: p.vmUuid }],
});
