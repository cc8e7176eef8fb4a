import { KvmopsError } from '../domain/errors.js';
import { asDomainUuid, type DomainUuid } from './domain-uuid.js';
import type { HostContext } from './host-context.js';
import type { OpContext } from './types.js';
import { virshArgs } from './virsh-args.js';

/**
 * Domain identities: the host's domains as (uuid, name) pairs from ONE `virsh list --all
 * --uuid --name`, and a name resolved to its uuid by exact match in that list. This is the
 * only place a name typed in chat meets libvirt; afterwards every call uses the uuid.
 */

export interface DomainRef {
  readonly uuid: DomainUuid;
  readonly name: string;
}

/**
 * `list --all --uuid --name`: `<uuid> <name>` a line (the name as libvirt has it, spaces
 * included), a trailing empty line. A line of another shape is `unexpected-output`. Pure.
 */
export function parseDomainList(output: string): DomainRef[] {
  const out: DomainRef[] = [];
  for (const line of output.split('\n')) {
    if (line === '') continue;
    const m = /^(\S{36}) (.+)$/.exec(line);
    if (!m) throw new KvmopsError('unexpected-output', `virsh list --uuid --name: ${JSON.stringify(line.slice(0, 120))}`);
    out.push({ uuid: asDomainUuid(m[1]!), name: m[2]! });
  }
  return out;
}

export async function listDomains(h: HostContext, ctx: OpContext = {}): Promise<DomainRef[]> {
  return parseDomainList(await h.virsh.run(virshArgs.listDomains(), { timeoutMs: 60_000, signal: ctx.signal }));
}

/** The domain named exactly `name` in `domains`, or undefined. */
export function findByName(domains: readonly DomainRef[], name: string): DomainRef | undefined {
  return domains.find((d) => d.name === name);
}

/**
 * The VM named exactly `name` (a name already validated), or `vm-not-found`.
 *
 * With `pinned` (the uuid a job recorded when it was requested): that domain and no other —
 * even if it was renamed since, it is the one that was asked for and approved. Gone, with
 * another domain under the name → `target-changed`; gone altogether → `target-gone`. The
 * same-named newcomer is never returned.
 */
export async function resolveVm(h: HostContext, name: string, ctx: OpContext = {}, pinned?: DomainUuid): Promise<DomainRef> {
  const domains = await listDomains(h, ctx);
  const d = findByName(domains, name);
  if (pinned === undefined) {
    if (!d) throw new KvmopsError('vm-not-found', `VM ${name} does not exist on host ${h.name}`, { details: { vm: name } });
    return d;
  }
  const same = domains.find((x) => x.uuid === pinned);
  if (same) return same;
  if (d) {
    throw new KvmopsError('target-changed', `VM ${name} on ${h.name} is not the VM this job was asked for (uuid ${pinned}): that one is gone, and ${d.name} is another VM (uuid ${d.uuid}); nothing was done to it`, {
      details: { vm: name, pinned, now: d.uuid },
    });
  }
  throw new KvmopsError('target-gone', `the VM this job was asked for (${name}, uuid ${pinned}) no longer exists on ${h.name}`, { details: { vm: name, pinned } });
}
