import { z } from 'zod';
import { hostNameSchema, vmNameSchema } from '../domain/names.js';
import { onlyVm } from '../domain/resources.js';
import { vmStateChanges } from './inventory.js';
import { defineKind, onHost, opOf } from './kind.js';
import { pinnedVm, vmState, vmTargetOf, vmUuidSchema } from './vm-ref.js';

/** Pinned (vm-ref.ts): a forced stop of whatever VM now has the name would cut another machine's power. */
export const vmStopPayload = z.object({ host: hostNameSchema, vm: vmNameSchema, force: z.boolean(), vmUuid: vmUuidSchema }).strict();

/** ACPI shutdown with a bounded wait, or with `force` destroy. */
export const vmStop = defineKind({
  name: 'vm.stop',
  payload: vmStopPayload,
  needsApproval: false,
  resources: onlyVm,
  describe: (p) => `${p.force ? 'Force-stop' : 'Stop'} ${p.vm} ${onHost(p)}`,
  pinned: (p) => [`VM ${pinnedVm(p)}`],
  summary: (r) => (r.alreadyStopped ? 'already shut off' : 'shut off'),
  // Already shut off: the earlier attempt stopped it.
  recover: async (p, ctx) => ((await vmState(ctx.host, p, opOf(ctx))) === 'shut off' ? { vm: p.vm, state: 'shut off', alreadyStopped: true } : undefined),
  execute: async (p, ctx) => {
    ctx.progress({ step: p.force ? `destroying ${p.vm}` : `shutting down ${p.vm}` });
    await ctx.host.stopVm({ ...vmTargetOf(p), force: p.force }, opOf(ctx));
    return { vm: p.vm, state: 'shut off' };
  },
  // Only its state changed (no read-back: the state is what the job just made it).
  inventory: (p, _r, ctx) => vmStateChanges(ctx, p, 'shut off'),
});
