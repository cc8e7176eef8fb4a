import { KvmopsError } from '../../domain/errors.js';
import type { HostContext } from '../host-context.js';
import { virshArgs } from '../virsh-args.js';
import type { Virsh } from '../virsh.js';

/** libvirt's version, as `virsh version` prints it ("Using library: libvirt 9.0.0"). */
export interface LibvirtVersion {
  major: number;
  minor: number;
  micro: number;
}

export function parseLibvirtVersion(output: string): LibvirtVersion {
  const m = /^Using library: libvirt (\d+)\.(\d+)\.(\d+)\s*$/m.exec(output);
  if (!m) throw new KvmopsError('unexpected-output', `virsh version: no library version in ${JSON.stringify(output.slice(0, 200))}`);
  return { major: Number(m[1]), minor: Number(m[2]), micro: Number(m[3]) };
}

export function versionAtLeast(v: LibvirtVersion, major: number, minor: number, micro = 0): boolean {
  if (v.major !== major) return v.major > major;
  if (v.minor !== minor) return v.minor > minor;
  return v.micro >= micro;
}

/** libvirt 9.9.0 added revert to an external snapshot; before, kvmops does it itself. */
export function hasNativeExternalRevert(v: LibvirtVersion): boolean {
  return versionAtLeast(v, 9, 9, 0);
}

const cache = new WeakMap<Virsh, Promise<LibvirtVersion>>();

/** The host's libvirt version, asked once per connection. */
export function libvirtVersion(h: HostContext, signal?: AbortSignal): Promise<LibvirtVersion> {
  let p = cache.get(h.virsh);
  if (!p) {
    p = h.virsh.run(virshArgs.version(), { signal }).then(parseLibvirtVersion);
    p.catch(() => cache.delete(h.virsh));
    cache.set(h.virsh, p);
  }
  return p;
}
