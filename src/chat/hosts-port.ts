import type { HostProbeState } from '../hypervisor/probe.js';
import type { HostState } from '../jobs/types.js';

/**
 * What the chat core knows of the hosts themselves (`/host list|info|drain`, `/deploy
 * host:auto`): a bounded live look (the host probe: cached, with a timeout, so a hanging host
 * costs at most `waitMs`), the drain state (KVMOPS_HOSTS `;drain` or `/host drain`), and the
 * live jobs per host. Counts of VMs and templates come from the inventory, not from here.
 */
export interface HostsPort {
  /** Every host's live state (KVMOPS_HOSTS order), each read waited for at most `waitMs`. */
  probeAll(opts?: { fresh?: boolean }): Promise<HostProbeState[]>;
  probe(host: string, opts?: { fresh?: boolean }): Promise<HostProbeState>;
  /** The memory (bytes) of a VM from `template` on `host` (read once per template identity). */
  templateMemory(host: string, template: string, createdAt: string): Promise<number>;
  /** Drained for placement: by KVMOPS_HOSTS (`env`) and/or through chat (`chat`, with who and when). */
  drain(host: string): HostDrain;
  /** `/host drain`; the host is a KVMOPS_HOSTS name (the caller checked). */
  setDrain(host: string, drained: boolean, by: { id: string; name: string }): Promise<HostState>;
  /** Queued and running jobs on `host`. */
  jobs(host: string): { queued: number; running: number };
}

export interface HostDrain {
  drained: boolean;
  /** `name=uri;drain` in KVMOPS_HOSTS: only a change of the environment undoes it. */
  env: boolean;
  /** The last `/host drain` on this host, if any. */
  chat: HostState | null;
}
