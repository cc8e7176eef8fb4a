import type { StorageLayout } from './storage.js';
import type { Virsh } from './virsh.js';

/** What every hypervisor operation on one host needs: its name, its virsh and its storage. */
export interface HostContext {
  readonly name: string;
  readonly uri: string;
  readonly virsh: Virsh;
  readonly storage: StorageLayout;
  /** True for qemu:///system or qemu:///session: files can also be read with local tools. */
  readonly local: boolean;
}
