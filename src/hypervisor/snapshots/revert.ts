import { exists } from '../local-files.js';
import path from 'node:path';
import { KvmopsError } from '../../domain/errors.js';
import type { HostContext } from '../host-context.js';
import { qemuImg } from '../qemu-img.js';
import { resolveVm } from '../domains.js';
import type { OpContext, RevertRequest, RevertResult } from '../types.js';
import { assertDiskTarget, assertName } from '../validate.js';
import { chainsOf, collectOrphans, defineDomain, powerOff, start, withXmlFile } from './common.js';
import { repointDisks } from './domain-disks.js';
import { assertKnown, assertLocal, chainFiles, createOverlay, formatOf, isFrozen, overlayPath, usage, type Usage } from './files.js';
import { readRevertRecord, writeRevertRecord } from './revert-record.js';
import { hasNativeExternalRevert, libvirtVersion } from './libvirt-version.js';
import { takenWhileRunning, withOverlay, type ParsedSnapshot } from './snapshot-xml.js';
import { qemuImgArgs } from '../qemu-img-args.js';
import { virshArgs } from '../virsh-args.js';
import { findSnapshot, load, type Loaded } from './state.js';

/**
 * Revert a VM to a snapshot. What the VM looks like afterwards: its disks hold the snapshot's
 * data, and it runs if the snapshot was taken while it ran, else it is shut off (libvirt's
 * own rule for internal snapshots, kept for the reverts kvmops does itself; those restore
 * disks only, so a VM taken while running boots afresh from the snapshot's disks).
 *
 * - internal, libvirt's `snapshot-revert` — unless the qcow2 holding the snapshot has become
 *   the read-only base of something still needed (an external snapshot taken after it, or an
 *   overlay another snapshot needs). libvirt 9.0 would then revert that base in place, under
 *   the overlay and the external snapshot (docs/host-notes.md): their data would be lost. kvmops
 *   then copies the snapshot out into a new qcow2 (on the same backing file) and points the
 *   domain there; the base stays as it is.
 * - external, libvirt < 9.9 (which refuses): a fresh qcow2 overlay on the file that became the
 *   snapshot's base, the domain's disk pointed at it (domain redefined with its uuid), the
 *   snapshot's metadata redefined to name the new overlay and marked current. The base is
 *   never written, so the snapshot stays revertable any number of times.
 * - external, libvirt ≥ 9.9: libvirt's own `snapshot-revert`.
 *
 * Afterwards files kvmops made for this VM that neither it, nor any snapshot, nor any other
 * domain uses (the previous overlay, …) are removed; with any chain unreadable, none is.
 *
 * Exactly once: with a `requestId`, the id is recorded in the VM's libvirt metadata
 * (revert-record.ts) when the revert is done; a call with an id already recorded does nothing
 * and answers `alreadyApplied` — a job whose success was lost never reverts twice.
 */
export async function revertSnapshot(h: HostContext, req: RevertRequest, ctx: OpContext = {}): Promise<RevertResult> {
  const vm = assertName(req.vm, 'VM');
  const name = assertName(req.name, 'snapshot');
  const requestId = req.requestId === undefined ? undefined : assertName(req.requestId, 'request id');
  const ref = await resolveVm(h, vm, ctx);
  const record = requestId === undefined ? null : await readRevertRecord(h, ref.uuid, ctx.signal);
  if (record && requestId !== undefined && record.some((r) => r.id === requestId)) return { alreadyApplied: true };
  const l = await load(h, ref, ctx.signal);
  const snap = findSnapshot(l, vm, name);
  await revertTo(h, l, snap, ctx);
  // recorded last, once everything (start included) is done: a revert cut short is redone
  if (record && requestId !== undefined) await writeRevertRecord(h, ref.uuid, record, { id: requestId, snapshot: name });
  return { alreadyApplied: false };
}

async function revertTo(h: HostContext, l: Loaded, snap: ParsedSnapshot, ctx: OpContext): Promise<void> {
  if (snap.kind === 'external') {
    if (hasNativeExternalRevert(await libvirtVersion(h, ctx.signal))) return nativeRevert(h, l, snap, ctx);
    return revertExternal(h, l, snap, ctx);
  }
  const fromSnapshots = h.local ? await usage([], l.snapshots, ctx.signal) : undefined;
  if (fromSnapshots) assertKnown(fromSnapshots, l.vm);
  const frozen = internalContainers(snap).filter((d) => fromSnapshots && isFrozen(fromSnapshots, d.file));
  if (frozen.length === 0) return nativeRevert(h, l, snap, ctx);
  return revertInternalByCopy(h, l, snap, fromSnapshots!, ctx);
}

async function nativeRevert(h: HostContext, l: Loaded, snap: ParsedSnapshot, ctx: OpContext): Promise<void> {
  const old = h.local ? await chainsOf(l.disks.map((d) => d.file), ctx.signal) : [];
  ctx.onProgress?.({ step: `reverting ${l.vm} to ${snap.name}` });
  await h.virsh.run(virshArgs.snapshotRevert(l.uuid, snap.name), { signal: ctx.signal, timeoutMs: 600_000 });
  await collectOrphans(h, l, old, ctx.signal);
}

/** Disks of an internal snapshot with the qcow2 file holding it. */
function internalContainers(snap: ParsedSnapshot): Array<{ target: string; file: string }> {
  return snap.disks
    .filter((d) => d.mode === 'internal')
    .map((d) => {
      const file = snap.domainDisks.find((x) => x.target === d.target)?.file;
      if (!file) throw new KvmopsError('unexpected-output', `snapshot ${snap.name}: no file recorded for disk ${d.target}`);
      return { target: d.target, file: path.resolve(file) };
    });
}

async function revertExternal(h: HostContext, l: Loaded, snap: ParsedSnapshot, ctx: OpContext): Promise<void> {
  assertLocal(h, 'reverting to an external snapshot');
  const signal = ctx.signal;
  const old = await chainsOf(l.disks.map((d) => d.file), signal);
  const bases = snap.disks
    .filter((d) => d.mode === 'external')
    .map((d) => {
      const b = snap.domainDisks.find((x) => x.target === d.target);
      if (!b?.file) throw new KvmopsError('unexpected-output', `snapshot ${snap.name}: no base file recorded for disk ${d.target}`);
      return { target: d.target, file: path.resolve(b.file), format: b.format };
    });
  for (const b of bases) if (!(await exists(b.file))) throw new KvmopsError('internal', `snapshot ${snap.name}: its base ${b.file} is missing`);
  await powerOff(h, l, ctx);
  const changes = new Map<string, { file: string; format: string }>();
  let xml = snap.xml;
  for (const b of bases) {
    ctx.onProgress?.({ step: `new overlay for ${b.target} on ${path.basename(b.file)}` });
    // always a new file: the previous overlay is removed afterwards only if nothing needs it
    const overlay = await overlayPath(h, l.uuid, assertDiskTarget(b.target));
    await createOverlay(h, overlay, b.file, b.format ?? (await formatOf(b.file, signal)), signal);
    changes.set(b.target, { file: overlay, format: 'qcow2' });
    xml = withOverlay(xml, b.target, overlay);
  }
  await defineDomain(h, repointDisks(l.domainXml, changes), signal);
  await withXmlFile(xml, (f) => h.virsh.run(virshArgs.snapshotRedefineCurrent(l.uuid, f), { signal }));
  await collectOrphans(h, l, old, signal);
  if (takenWhileRunning(snap)) await start(h, l, ctx);
}

async function revertInternalByCopy(
  h: HostContext,
  l: Loaded,
  snap: ParsedSnapshot,
  fromSnapshots: Usage,
  ctx: OpContext,
): Promise<void> {
  assertLocal(h, 'reverting to this internal snapshot');
  const signal = ctx.signal;
  const old = await chainsOf(l.disks.map((d) => d.file), signal);
  await powerOff(h, l, ctx);
  const changes = new Map<string, { file: string; format: string }>();
  for (const c of internalContainers(snap)) {
    if (!isFrozen(fromSnapshots, c.file)) {
      ctx.onProgress?.({ step: `reverting ${c.target} inside ${path.basename(c.file)}` });
      await qemuImg(qemuImgArgs.snapshotApply(c.file, snap.name), { signal });
      changes.set(c.target, { file: c.file, format: 'qcow2' });
      continue;
    }
    ctx.onProgress?.({ step: `copying ${c.target} out of ${path.basename(c.file)} (it is the base of a later snapshot)` });
    const target = await overlayPath(h, l.uuid, assertDiskTarget(c.target));
    const backing = (await chainFiles(c.file, signal))[1];
    const below = backing ? { file: backing, format: await formatOf(backing, signal) } : undefined;
    await qemuImg(qemuImgArgs.convertSnapshot(c.file, snap.name, target, below), { signal });
    changes.set(c.target, { file: target, format: 'qcow2' });
  }
  await defineDomain(h, repointDisks(l.domainXml, changes), signal);
  await h.virsh.run(virshArgs.snapshotCurrent(l.uuid, snap.name), { signal });
  await collectOrphans(h, l, old, signal);
  if (takenWhileRunning(snap)) await start(h, l, ctx);
}
