import { onlyVm } from '../domain/resources.js';
import { vmStateChanges } from './inventory.js';
import { addressNote, waitAddresses } from './addresses.js';
import { defineKind, onHost, opOf, str } from './kind.js';
import { pinnedVm, vmStartPayload, vmState, vmTargetOf } from './vm-ref.js';

export const vmStart = defineKind({
  name: 'vm.start',
  payload: vmStartPayload,
  needsApproval: false,
  resources: onlyVm,
  describe: (p) => `Start ${p.vm} ${onHost(p)}`,
  pinned: (p) => (p.vmUuid ? [`VM ${pinnedVm(p)}`] : []),
  summary: (r) => `${r.alreadyRunning ? 'already running' : 'running'}${addressNote(r, str(r.vm))}`,
  // Already running: the earlier attempt started it (and this one waits for its address).
  recover: async (p, ctx) =>
    (await vmState(ctx.host, p, opOf(ctx))) === 'running'
      ? { vm: p.vm, state: 'running', alreadyRunning: true, addresses: await waitAddresses(ctx, [vmTargetOf(p)]) }
      : undefined,
  execute: async (p, ctx) => {
    ctx.progress({ step: `starting ${p.vm}` });
    await ctx.host.startVm(vmTargetOf(p), opOf(ctx));
    return { vm: p.vm, state: 'running', addresses: await waitAddresses(ctx, [vmTargetOf(p)]) };
  },
  // Only its state changed (no read-back: the state is what the job just made it).
  inventory: (p, _r, ctx) => vmStateChanges(ctx, p, 'running'),
});
