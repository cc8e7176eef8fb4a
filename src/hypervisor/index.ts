import type { HostConfig } from '../config/env.js';
import { KvmopsError } from '../domain/errors.js';
import { LibvirtHost, type LibvirtHostOptions } from './host.js';
import type { HostDriver, Hypervisor } from './types.js';

/** The hypervisor registry: one HostDriver per KVMOPS_HOSTS entry, the first is the default. */

export interface HypervisorConfig extends Omit<LibvirtHostOptions, 'local'> {
  hosts: HostConfig[];
  storageDir: string;
}

export function createHypervisor(config: HypervisorConfig): Hypervisor {
  if (config.hosts.length === 0) throw new KvmopsError('invalid-input', 'no hosts configured');
  const { hosts, ...opts } = config;
  const drivers = new Map<string, HostDriver>();
  for (const h of hosts) {
    if (drivers.has(h.name)) throw new KvmopsError('invalid-input', `host ${h.name} is configured twice`);
    drivers.set(h.name, new LibvirtHost(h, opts));
  }
  const names = hosts.map((h) => h.name);
  return {
    hostNames: () => [...names],
    host(name?: string): HostDriver {
      const d = drivers.get(name ?? names[0]!);
      if (!d) throw new KvmopsError('host-not-found', `no host named ${String(name)}; hosts: ${names.join(', ')}`, { details: { hosts: names } });
      return d;
    },
  };
}

export { LibvirtHost, isLocalUri, hostContext } from './host.js';
export type { LibvirtHostOptions } from './host.js';
export type * from './types.js';
