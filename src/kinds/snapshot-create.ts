import { z } from 'zod';
import { hostNameSchema, snapshotNameSchema, vmNameSchema } from '../domain/names.js';
import { onlyVm } from '../domain/resources.js';
import { descriptionSchema } from '../domain/text.js';
import type { SnapshotInfo } from '../hypervisor/types.js';
import { vmChanges } from './inventory.js';
import { defineKind, onHost, opOf, str } from './kind.js';
import { pinnedVm, vmTargetOf, vmUuidSchema } from './vm-ref.js';

export const snapshotCreatePayload = z
  .object({
    host: hostNameSchema,
    vm: vmNameSchema,
    name: snapshotNameSchema,
    kind: z.enum(['internal', 'external']),
    description: descriptionSchema.optional(),
    vmUuid: vmUuidSchema.optional(),
  })
  .strict();

function snapshotResult(vm: string, s: SnapshotInfo) {
  return { snapshot: { vm, name: s.name, kind: s.kind, createdAt: s.createdAt } };
}

/** An internal (inside the qcow2) or external (a new overlay) snapshot of a VM. */
export const snapshotCreate = defineKind({
  name: 'snapshot.create',
  payload: snapshotCreatePayload,
  needsApproval: false,
  resources: onlyVm,
  describe: (p) => `Snapshot ${p.vm} as ${p.name} (${p.kind}) ${onHost(p)}`,
  pinned: (p) => (p.vmUuid ? [`VM ${pinnedVm(p)}`] : []),
  summary: (r) => {
    const s = r.snapshot as Record<string, unknown> | undefined;
    return s ? `snapshot ${str(s.name)} (${str(s.kind)}) of ${str(s.vm)}` : undefined;
  },
  // A snapshot of this name on this VM means libvirt took it before the crash (snapshot creation
  // is atomic in libvirt): report it instead of failing `name-taken`.
  // Only the pinned VM's snapshots count: when the name now belongs to another VM, execute
  // refuses it (`target-changed`).
  recover: async (p, ctx) => {
    if (p.vmUuid !== undefined && !(await ctx.host.listVms(opOf(ctx))).some((v) => v.uuid === p.vmUuid && v.name === p.vm)) return undefined;
    const existing = (await ctx.host.listSnapshots(p.vm, opOf(ctx))).find((s) => s.name === p.name);
    return existing ? snapshotResult(p.vm, existing) : undefined;
  },
  execute: async (p, ctx) => {
    ctx.progress({ step: `taking ${p.kind} snapshot` });
    const s = await ctx.host.createSnapshot(
      { ...vmTargetOf(p), name: p.name, kind: p.kind, ...(p.description !== undefined ? { description: p.description } : {}) },
      opOf(ctx),
    );
    return snapshotResult(p.vm, s);
  },
  // The VM read back whole: its snapshots and disks (an external one adds an overlay).
  inventory: (p, _r, ctx) => vmChanges(ctx, p),
});
