import type { HostDriver } from '../hypervisor/types.js';

/** Read-only host inventory: the methods of `HostDriver` handlers and the catalog may call. */
export type HostReader = Pick<HostDriver, 'name' | 'listVms' | 'vmInfo' | 'listTemplates' | 'listSnapshots' | 'vmNics'>;

/** The slice of `Hypervisor` the chat core uses: it never reaches a mutating driver method. */
export interface HypervisorReader {
  /** KVMOPS_HOSTS order; the first is the default host. */
  hostNames(): string[];
  /** Unknown name → KvmopsError `host-not-found`. */
  host(name?: string): HostReader;
}
