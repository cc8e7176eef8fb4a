import { KvmopsError } from '../../domain/errors.js';
import type { HostDriver, OpContext, VmState } from '../../hypervisor/types.js';

/** The VM's current libvirt state, or `vm-not-found`. One `list`, cheaper than vmInfo. */
export async function vmState(host: HostDriver, vm: string, op: OpContext): Promise<VmState> {
  const found = (await host.listVms(op)).find((v) => v.name === vm);
  if (!found) throw new KvmopsError('vm-not-found', `no VM named ${vm} on ${host.name}`);
  return found.state;
}
