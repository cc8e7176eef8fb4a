import { onlyVm } from '../domain/resources.js';
import { vmChanges } from './inventory.js';
import { defineKind, onHost, opOf, str } from './kind.js';
import { moment } from '../domain/moment.js';
import { pinnedSnapshot, snapshotRefPayload, snapshotTargetOf } from './snapshot-ref.js';
import { pinnedVm } from './vm-ref.js';

/** Back to a snapshot. Destructive (what was written since is lost): always approved first. */
export const snapshotRevert = defineKind({
  name: 'snapshot.revert',
  payload: snapshotRefPayload,
  needsApproval: true,
  resources: onlyVm,
  describe: (p) => `Revert ${p.vm} to snapshot ${pinnedSnapshot(p)} ${onHost(p)}`,
  pinned: (p) => [`VM ${pinnedVm(p)}`, `snapshot ${pinnedSnapshot(p, moment)}${p.snapshot?.files.length ? `, external on ${p.snapshot.files.length} base file(s)` : ''}`],
  summary: (r) => {
    const s = r.reverted as Record<string, unknown> | undefined;
    return s ? `${str(s.vm)} is back at ${str(s.snapshot)}${r.alreadyApplied ? ' (already applied by an earlier attempt)' : ''}` : undefined;
  },
  // Reverting is not idempotent in effect: a second revert throws away whatever was written since
  // the first. So the revert is asked for under the job's request id (the same on every attempt —
  // retry, release, reap after a crash or a lost success write): the host records it with the
  // revert, and a repeated call with the same id does nothing and says `alreadyApplied`. The
  // record is the recovery check, read by the host inside the same call; a revert cut short (no
  // record yet) is simply done again.
  recover: null,
  execute: async (p, ctx) => {
    ctx.progress({ step: `reverting ${p.vm} to ${p.name}` });
    const { alreadyApplied } = await ctx.host.revertSnapshot({ ...snapshotTargetOf(p), requestId: ctx.job.requestId }, opOf(ctx));
    return { reverted: { vm: p.vm, snapshot: p.name }, ...(alreadyApplied ? { alreadyApplied: true as const } : {}) };
  },
  // The VM read back whole: its disks (an external revert makes new overlays) and snapshots.
  inventory: (p, _r, ctx) => vmChanges(ctx, p),
});
