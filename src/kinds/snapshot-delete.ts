import { isKvmopsError } from '../domain/errors.js';
import { onlyVm } from '../domain/resources.js';
import { vmChanges } from './inventory.js';
import { defineKind, onHost, opOf } from './kind.js';
import { moment } from '../domain/moment.js';
import { z } from 'zod';
import type { ErrorCode } from '../domain/errors.js';
import { pinnedSnapshot, snapshotRefPayload, snapshotTargetOf } from './snapshot-ref.js';
import { pinnedVm } from './vm-ref.js';

/**
 * `keepIfNeeded`: a schedule's retention (src/chat/scheduler.ts) asks for the delete; when the
 * host refuses because something still needs the snapshot — a child snapshot on it, the running
 * VM reading the file it lives in, a thin VM on its base — the snapshot is kept and the job
 * succeeds saying so: retention is not a reason to fail a run loudly. A person's `/snapshot
 * delete` never sets it, and still gets the refusal.
 */
export const snapshotDeletePayload = snapshotRefPayload.extend({ keepIfNeeded: z.literal(true).optional() }).strict();

/** The refusals that mean "still needed" (not "broken"): kept under `keepIfNeeded`. */
const STILL_NEEDED: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['snapshot-has-children', 'vm-running', 'template-in-use']);

/** Delete a snapshot; an external one's overlay is merged. */
export const snapshotDelete = defineKind({
  name: 'snapshot.delete',
  payload: snapshotDeletePayload,
  needsApproval: false,
  resources: onlyVm,
  describe: (p) => `Delete snapshot ${pinnedSnapshot(p)} of ${p.vm} ${onHost(p)}`,
  pinned: (p) => [`VM ${pinnedVm(p)}`, `snapshot ${pinnedSnapshot(p, moment)}`],
  summary: (r) =>
    r.kept
      ? `kept: ${String(r.kept)}`
      : `deleted${r.alreadyGone ? ' (already gone)' : ''}${r.notTouched ? `; ${String(r.notTouched)} now has the name and was not touched` : ''}`,
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
      if (p.keepIfNeeded && isKvmopsError(e) && STILL_NEEDED.has(e.code)) return { kept: `${e.code}: ${e.message}` };
      throw e;
    }
    return { deleted: { vm: p.vm, snapshot: p.name } };
  },
  // The VM read back whole: its snapshots and disks (an external one's overlay is merged).
  inventory: (p, _r, ctx) => vmChanges(ctx, p),
});
