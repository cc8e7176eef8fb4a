import { z } from 'zod';
import { KvmopsError } from '../domain/errors.js';
import { hostNameSchema, vmNameSchema } from '../domain/names.js';
import { isDomainUuid } from '../hypervisor/domain-uuid.js';
import type { HostDriver, OpContext, VmState } from '../hypervisor/types.js';

/**
 * Pinned identities (docs/commands.md "Approvals"): a job that acts on an existing VM stores, when
 * it is requested, the uuid the VM has then (`vmUuid`); the host acts on that domain only. A VM
 * deleted and made anew under the name — by hand, by another job, or by a restore of an older
 * database — is another VM, and is never touched. Destructive kinds require the pin (a job
 * without one, e.g. one queued before pins existed, is refused at claim: fail closed); the others
 * take it when the chat gives it.
 */
export const vmUuidSchema = z
  .string()
  .refine((s): boolean => isDomainUuid(s), 'a lower-case uuid')
  .describe('the VM uuid pinned at request time');

/** The payload of vm.delete: one VM, pinned. */
export const vmPayload = z.object({ host: hostNameSchema, vm: vmNameSchema, vmUuid: vmUuidSchema }).strict();

/** The payload of vm.start: one VM, pinned when the chat asked for it. */
export const vmStartPayload = vmPayload.extend({ vmUuid: vmUuidSchema.optional() }).strict();

/** The VM a payload names: its name and, when pinned, its uuid (HostDriver's VmTarget). */
export const vmTargetOf = (p: { vm: string; vmUuid?: string | undefined }) => ({ vm: p.vm, ...(p.vmUuid !== undefined ? { vmUuid: p.vmUuid } : {}) });

/** "web (uuid 3f2a…)" for descriptions: which VM, as pinned. */
export const pinnedVm = (p: { vm: string; vmUuid?: string | undefined }): string => (p.vmUuid ? `${p.vm} (uuid ${p.vmUuid.slice(0, 8)})` : p.vm);

/**
 * The VM's current libvirt state, or `vm-not-found` — the pinned VM (by uuid) when pinned, so a
 * recovery check never reads another VM's state. One `list`, cheaper than vmInfo.
 */
export async function vmState(host: HostDriver, p: { vm: string; vmUuid?: string | undefined }, op: OpContext): Promise<VmState> {
  const vms = await host.listVms(op);
  const found = p.vmUuid !== undefined ? vms.find((v) => v.uuid === p.vmUuid) : vms.find((v) => v.name === p.vm);
  if (!found) throw new KvmopsError('vm-not-found', `no VM ${pinnedVm(p)} on ${host.name}`);
  return found.state;
}
