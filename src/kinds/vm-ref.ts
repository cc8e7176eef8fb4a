import { z } from 'zod';
import { KvmopsError } from '../domain/errors.js';
import { hostNameSchema, vmNameSchema } from '../domain/names.js';
import type { HostDriver, OpContext, VmState } from '../hypervisor/types.js';

/** The payload of the kinds that name one VM (start, delete). */
export const vmPayload = z.object({ host: hostNameSchema, vm: vmNameSchema }).strict();

/** The VM's current libvirt state, or `vm-not-found`. One `list`, cheaper than vmInfo. */
export async function vmState(host: HostDriver, vm: string, op: OpContext): Promise<VmState> {
  const found = (await host.listVms(op)).find((v) => v.name === vm);
  if (!found) throw new KvmopsError('vm-not-found', `no VM named ${vm} on ${host.name}`);
  return found.state;
}
