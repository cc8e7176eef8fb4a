import type { DomainUuid } from './domain-uuid.js';
import type { HostContext } from './host-context.js';
import { isVolumeMissing, throwFirstError } from './multi.js';
import type { HostReferences } from './references.js';
import type { OpContext } from './types.js';
import { virshArgs } from './virsh-args.js';

/**
 * The ownership rule, in one place. A clean-up for domain `owner` may remove a file only when
 *  - kvmops recorded that it made the file for that domain: the file is `vms/<owner>.….qcow2`
 *    (storage.ts) — old-named and hand-made files are never removed automatically; and
 *  - nothing references it: no domain's chain (live, persistent or in a snapshot) and nothing
 *    the owner itself still needs (`stillNeeded`); and
 *  - the references are known: one unreadable chain anywhere means "maybe", so nothing goes.
 */
export function removableFiles(
  h: HostContext,
  owner: DomainUuid,
  candidates: Iterable<string>,
  refs: HostReferences,
  stillNeeded: ReadonlySet<string> = new Set(),
): { remove: string[]; keep: string[] } {
  const remove: string[] = [];
  const keep: string[] = [];
  for (const f of new Set(candidates)) {
    const ok = refs.unreadable.length === 0 && h.storage.ownerOf(f) === owner && !refs.users.has(f) && !stillNeeded.has(f);
    (ok ? remove : keep).push(f);
  }
  return { remove: remove.sort(), keep: keep.sort() };
}

/**
 * Removes files of the storage dir through the pool API (`pool-refresh` so files made by
 * qemu-img are volumes, then `vol-delete` by path), in one virsh process per chunk. Files
 * already gone count as removed. Returns the files that are gone now.
 */
export async function deleteVolumes(h: HostContext, files: readonly string[], ctx: OpContext = {}): Promise<string[]> {
  if (files.length === 0) return [];
  for (const f of files) h.storage.assertInside(f);
  const results = await h.virsh.multi(
    [virshArgs.poolRefresh(h.storage.vmsPool), virshArgs.poolRefresh(h.storage.templatesPool), ...files.map((f) => virshArgs.volDelete(f))],
    { timeoutMs: 120_000, signal: ctx.signal },
  );
  // with both pools freshly refreshed, "volume not found" means the file is not there (any more)
  throwFirstError(results.slice(0, 2));
  const failures = results.slice(2).filter((r) => r.error && !isVolumeMissing(r));
  if (failures.length) throw failures[0]!.error!;
  return [...files].sort();
}
