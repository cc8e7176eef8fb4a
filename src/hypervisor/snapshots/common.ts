import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isKvmopsError } from '../../domain/errors.js';
import type { HostContext } from '../host-context.js';
import { withTempDir } from '../tempdir.js';
import type { OpContext } from '../types.js';
import { virshArgs } from '../virsh-args.js';
import { referencesTo } from '../references.js';
import { isOwnFile, removeOrphans, usage } from './files.js';
import { hostFilesIfAny, type HostFiles } from '../host-files.js';
import { load, type VmState } from './state.js';

/** Steps shared by revert and delete. */

/** Run virsh with an XML document in a temporary file (`define`, `snapshot-create --redefine`). */
export async function withXmlFile<T>(xml: string, fn: (file: string) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    const file = path.join(dir, 'doc.xml');
    await writeFile(file, xml);
    return fn(file);
  });
}

export async function defineDomain(h: HostContext, xml: string, signal?: AbortSignal): Promise<void> {
  await withXmlFile(xml, (f) => h.virsh.run(virshArgs.define(f), { signal }));
}

/** Power off (destroy): a revert discards the current disk state anyway. */
export async function powerOff(h: HostContext, vm: VmState, ctx: OpContext): Promise<void> {
  if (!vm.running) return;
  ctx.onProgress?.({ step: `stopping ${vm.vm}` });
  try {
    await h.virsh.run(virshArgs.destroy(vm.uuid), { signal: ctx.signal });
  } catch (e) {
    if (!isKvmopsError(e, 'vm-not-running')) throw e;
  }
}

export async function start(h: HostContext, vm: VmState, ctx: OpContext): Promise<void> {
  ctx.onProgress?.({ step: `starting ${vm.vm}` });
  await h.virsh.run(virshArgs.start(vm.uuid), { signal: ctx.signal });
}

/**
 * Every file of the chains of these disks: what may become orphaned by a change. A chain that
 * cannot be read contributes its top file only (what lies below it is unknown, so not a
 * candidate for removal).
 */
export async function chainsOf(files: HostFiles, tops: Array<string | null>, signal?: AbortSignal): Promise<string[]> {
  const wanted = tops.filter((f): f is string => !!f);
  const read = await files.chains(wanted.map((file) => ({ file })), signal);
  return wanted.flatMap((f) => read.chains.get(f) ?? [path.resolve(f)]);
}

/**
 * After a change: read the real state again and remove the candidate files kvmops made for
 * this VM that neither it, nor any of its snapshots, nor any other domain uses anymore (with the
 * inventory's port, the other domains read are the candidates it names). Fails
 * closed: with any chain unreadable, every file is kept. The change itself is done, so this
 * never fails the operation for an unknown: it keeps instead. A remote host not reached over
 * ssh keeps every file (nothing there can look at them).
 */
export async function collectOrphans(
  h: HostContext,
  vm: Pick<VmState, 'vm' | 'uuid'>,
  candidates: string[],
  ctx: Pick<OpContext, 'signal' | 'referrers'> = {},
): Promise<string[]> {
  const { signal } = ctx;
  const own = candidates.filter((c) => isOwnFile(h, vm.uuid, c));
  const files = hostFilesIfAny(h);
  if (!files || own.length === 0) return [];
  const l = await load(h, { uuid: vm.uuid, name: vm.vm }, signal);
  const u = await usage(files, l.disks, l.snapshots, signal);
  // who else uses them: the candidates a fresh inventory names (all domains without it)
  const others = await referencesTo(h, own, ctx, { except: vm.uuid });
  return removeOrphans(h, files, vm.uuid, own, u, others);
}
