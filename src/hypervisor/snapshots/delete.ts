import path from 'node:path';
import { KvmopsError } from '../../domain/errors.js';
import type { HostContext } from '../host-context.js';
import { hostFiles, hostFilesIfAny } from '../host-files.js';
import type { OpContext, SnapshotRef } from '../types.js';
import { assertName, vmTarget } from '../validate.js';
import { chainsOf, collectOrphans, defineDomain } from './common.js';
import { repointDisks } from './domain-disks.js';
import { referencesTo, type HostReferences } from '../references.js';
import { assertKnown, chainFiles, formatOf, isOwnFile, usage } from './files.js';
import type { ParsedSnapshot } from './snapshot-xml.js';
import { qemuImgArgs } from '../qemu-img-args.js';
import { virshArgs } from '../virsh-args.js';
import { findPinnedSnapshot, loadByName, type Loaded } from './state.js';

/**
 * Delete a snapshot, leaving no orphan file and no stale metadata.
 *
 * - internal: libvirt's `snapshot-delete` when the snapshot lives in the disks the VM uses now
 *   (children are re-parented by libvirt; their data is in their own qcow2 snapshots). When it
 *   lives in a file the VM no longer writes to (after reverts or external snapshots), kvmops
 *   removes it from that file with `qemu-img snapshot -d` and libvirt's metadata with
 *   `--metadata` — refused with `vm-running` while that file is a backing file of the running
 *   VM (QEMU holds it).
 * - external: refused with `snapshot-has-children` while it has children (their data may sit
 *   on its overlay and base; delete them first). Otherwise, when the VM writes to an overlay
 *   directly on the snapshot's base (its branch), that overlay is merged into the base (running: `blockcommit --shallow
 *   --active --pivot`; shut off: `qemu-img commit` and the domain pointed back at the base) —
 *   unless the base is shared with something else still needed (another snapshot's base,
 *   another overlay on it, another domain's chain), or either file was not made by kvmops for
 *   this VM (old-named, hand-made): then the chain is kept as it is, which keeps every byte
 *   right. A chain that cannot be read refuses the delete (`chain-unreadable`).
 *   On a qemu+ssh host the same, with qemu-img run there over ssh (host-files.ts); on a remote
 *   host reached otherwise an external delete is `unsupported`, an internal one libvirt's own.
 *   libvirt 9.0's own external delete is not used: it refuses a snapshot whose parent is
 *   internal, and it needs the VM's chain to match its metadata, which kvmops' reverts change.
 */
/** A merge reads and writes up to a whole disk: as long as a whole-disk copy may take (disk-copy.ts). */
const MERGE_TIMEOUT_MS = 6 * 3_600_000;

export async function deleteSnapshot(h: HostContext, ref: SnapshotRef, ctx: OpContext = {}): Promise<void> {
  const { vm, vmUuid } = vmTarget(ref);
  const name = assertName(ref.name, 'snapshot');
  const l = await loadByName(h, vm, ctx.signal, vmUuid);
  const snap = findPinnedSnapshot(l, vm, name, ref.pin);
  if (snap.kind === 'internal') return deleteInternal(h, l, snap, ctx);
  return deleteExternal(h, l, snap, ctx);
}

async function deleteInternal(h: HostContext, l: Loaded, snap: ParsedSnapshot, ctx: OpContext): Promise<void> {
  const signal = ctx.signal;
  const containers = snap.disks
    .filter((d) => d.mode === 'internal')
    .map((d) => ({ target: d.target, file: snap.domainDisks.find((x) => x.target === d.target)?.file ?? null }));
  const top = new Map(l.disks.map((d) => [d.target, d.file ? path.resolve(d.file) : null]));
  const inUse = containers.every((c) => c.file !== null && top.get(c.target) === path.resolve(c.file));
  ctx.onProgress?.({ step: `deleting snapshot ${snap.name} of ${l.vm}` });
  // a remote host not reached over ssh: libvirt's own delete is all there is
  const fs = inUse ? null : hostFilesIfAny(h);
  if (!fs) {
    await h.virsh.run(virshArgs.snapshotDelete(l.uuid, snap.name), { signal, timeoutMs: 600_000 });
    return;
  }
  const files: string[] = [];
  for (const c of containers) if (c.file && (await fs.exists(c.file, signal))) files.push(path.resolve(c.file));
  if (l.running) {
    const live = new Set(await chainsOf(fs, l.disks.map((d) => d.file), signal));
    const held = files.filter((f) => live.has(f));
    if (held.length > 0) {
      throw new KvmopsError(
        'vm-running',
        `snapshot ${snap.name} lives in ${held.map((f) => path.basename(f)).join(', ')}, a read-only backing file of the running VM ${l.vm}: stop the VM and delete again`,
      );
    }
  }
  for (const f of files) {
    const list = await fs.qemuImg(qemuImgArgs.snapshotList(f), { signal, timeoutMs: 60_000 });
    if (new RegExp(`^\\S+\\s+${snap.name.replace(/\./g, '\\.')}\\s`, 'm').test(list)) {
      await fs.qemuImg(qemuImgArgs.snapshotDelete(f, snap.name), { signal });
    }
  }
  await h.virsh.run(virshArgs.snapshotDelete(l.uuid, snap.name, { metadataOnly: true }), { signal });
  await collectOrphans(h, l, await chainsOf(fs, files, signal), ctx);
}

async function deleteExternal(h: HostContext, l: Loaded, snap: ParsedSnapshot, ctx: OpContext): Promise<void> {
  const signal = ctx.signal;
  const children = l.snapshots.filter((s) => s.parent === snap.name).map((s) => s.name);
  if (children.length > 0) {
    throw new KvmopsError(
      'snapshot-has-children',
      `snapshot ${snap.name} of ${l.vm} has children (${children.join(', ')}): delete them first`,
      { details: { vm: l.vm, snapshot: snap.name, children } },
    );
  }
  const fs = hostFiles(h, 'deleting an external snapshot');
  const others = await usage(
    fs,
    l.disks,
    l.snapshots.filter((s) => s !== snap),
    signal,
  );
  assertKnown(others, l.vm);
  // other domains' chains: a base or overlay one of them uses is never merged away
  // (read once, for every top and base a merge could touch: the inventory's candidates — or
  // without it the whole host — read on disk, references.ts)
  let elsewhere: HostReferences | undefined;
  const usedElsewhere = async (files: string[]) => {
    elsewhere ??= await referencesTo(h, mergeFiles(l, snap).filter((f) => isOwnFile(h, l.uuid, f)), ctx, { except: l.uuid });
    return elsewhere.unreadable.length > 0 || files.some((f) => elsewhere!.users.has(f));
  };
  const candidates: string[] = [];
  const changes = new Map<string, { file: string; format: string }>();
  for (const d of snap.disks) {
    if (d.mode !== 'external' || !d.overlay) continue;
    const overlay = path.resolve(d.overlay);
    const baseDisk = snap.domainDisks.find((x) => x.target === d.target);
    const base = baseDisk?.file ? path.resolve(baseDisk.file) : null;
    const topFile = l.disks.find((x) => x.target === d.target)?.file;
    candidates.push(overlay, ...(base ? [base] : []));
    if (!base || !topFile) continue;
    // The VM is on this snapshot's branch when what it writes to sits directly on the base.
    // (Not necessarily the overlay the metadata names: reverts make fresh overlays.)
    const top = path.resolve(topFile);
    const chain = await chainFiles(fs, top, signal);
    const sharers = [...(others.dependents.get(base) ?? [])].filter((f) => f !== top);
    const mergeable =
      chain[1] === base &&
      !others.neededBySnapshots.has(top) &&
      isOwnFile(h, l.uuid, top) &&
      isOwnFile(h, l.uuid, base) &&
      !others.externalBases.has(base) &&
      sharers.length === 0 &&
      !(await usedElsewhere([top, base]));
    candidates.push(top);
    if (!mergeable) continue;
    ctx.onProgress?.({ step: `merging ${path.basename(top)} into ${path.basename(base)}` });
    if (l.running) {
      await h.virsh.run(virshArgs.blockcommitActive(l.uuid, d.target), { signal, timeoutMs: MERGE_TIMEOUT_MS });
    } else {
      await fs.qemuImg(qemuImgArgs.commit(top), { signal, timeoutMs: MERGE_TIMEOUT_MS });
      changes.set(d.target, { file: base, format: baseDisk?.format ?? (await formatOf(fs, base, signal)) });
    }
  }
  if (changes.size > 0) await defineDomain(h, repointDisks(l.domainXml, changes), signal);
  ctx.onProgress?.({ step: `deleting snapshot ${snap.name} of ${l.vm}` });
  await h.virsh.run(virshArgs.snapshotDelete(l.uuid, snap.name, { metadataOnly: true }), { signal });
  await collectOrphans(h, l, candidates, ctx);
}

/** Every file a merge for this external snapshot could touch: each disk's base and the VM's top file on it (a merge needs both to be its own). */
function mergeFiles(l: Loaded, snap: ParsedSnapshot): string[] {
  const out = new Set<string>();
  for (const d of snap.disks) {
    if (d.mode !== 'external' || !d.overlay) continue;
    const base = snap.domainDisks.find((x) => x.target === d.target)?.file;
    const top = l.disks.find((x) => x.target === d.target)?.file;
    if (base) out.add(path.resolve(base));
    if (top) out.add(path.resolve(top));
  }
  return [...out].sort();
}
