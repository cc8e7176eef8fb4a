import path from 'node:path';
import { KvmopsError } from '../../domain/errors.js';
import type { HostContext } from '../host-context.js';
import { hostFiles, hostFilesIfAny, type HostFiles } from '../host-files.js';
import { resolveVm, type DomainRef } from '../domains.js';
import type { DomainUuid } from '../domain-uuid.js';
import { parseDomState } from '../parse.js';
import type { OpContext, RevertRequest, RevertResult } from '../types.js';
import { assertDiskTarget, assertName, vmTarget } from '../validate.js';
import { chainsOf, collectOrphans, defineDomain, powerOff, withXmlFile } from './common.js';
import { repointDisks } from './domain-disks.js';
import { assertKnown, chainFiles, createOverlay, formatOf, isFrozen, isOwnFile, overlayPath, usage, type Usage } from './files.js';
import { readRevertRecord, writeRevertRecord, type RevertEntry, type RevertPending } from './revert-record.js';
import { hasNativeExternalRevert, libvirtVersion } from './libvirt-version.js';
import { takenWhileRunning, withOverlay, type ParsedSnapshot } from './snapshot-xml.js';
import { qemuImgArgs } from '../qemu-img-args.js';
import { virshArgs } from '../virsh-args.js';
import { findPinnedSnapshot, load, type Loaded } from './state.js';

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
 * The same on a qemu+ssh host: its files are reached through HostFiles (host-files.ts: qemu-img
 * there over ssh, chains through its pools, removal by vol-delete). A remote host reached
 * otherwise has libvirt's own revert only: kvmops' external revert is `unsupported` there, an
 * internal one is not checked for a later external snapshot, and nothing is cleaned up.
 *
 * Exactly once, with a `requestId` (revert-record.ts): the revert itself leaves the VM shut off
 * or paused — its point of no return — and the id is recorded in the VM's libvirt metadata right
 * there, with what is left to do (the clean-up's candidates, start or resume), before any of it
 * runs. A call with an id already recorded reverts nothing: it finishes what the record says is
 * left and answers `alreadyApplied`. So a fault or a stop after the revert (a host that drops the
 * connection during the clean-up, a start that times out) makes the job's next attempt finish
 * the revert instead of doing it again over what was written since. Once past the point of no
 * return the remaining steps ignore the abort signal: a cancel that comes too late gets the
 * finished revert reported, not a "cancelled" over reverted disks.
 */
export async function revertSnapshot(h: HostContext, req: RevertRequest, ctx: OpContext = {}): Promise<RevertResult> {
  const { vm, vmUuid } = vmTarget(req);
  const name = assertName(req.name, 'snapshot');
  const requestId = req.requestId === undefined ? undefined : assertName(req.requestId, 'request id');
  const ref = await resolveVm(h, vm, ctx, vmUuid);
  const record = requestId === undefined ? null : await readRevertRecord(h, ref.uuid, ctx.signal);
  const earlier = record?.find((r) => r.id === requestId);
  if (earlier) {
    if (earlier.pending) await finish(h, ref, record!, { id: earlier.id, snapshot: earlier.snapshot }, earlier.pending, ctx);
    return { alreadyApplied: true };
  }
  const l = await load(h, ref, ctx.signal);
  const snap = findPinnedSnapshot(l, vm, name, req.pin);
  const pending = await revertTo(h, l, snap, ctx);
  // The point of no return: the disks are the snapshot's, the VM is off or paused.
  const entry = { id: requestId ?? '', snapshot: name };
  const left = pending.then || pending.files.length ? pending : undefined;
  if (record && requestId !== undefined) await writeRevertRecord(h, ref.uuid, record, { ...entry, ...(left ? { pending: left } : {}) });
  if (left) await finish(h, ref, record, entry, left, { onProgress: ctx.onProgress, referrers: ctx.referrers });
  return { alreadyApplied: false };
}

/**
 * The steps after the point of no return: the clean-up, then start or resume; then the record
 * says done. Not bound to the job's signal (see revertSnapshot). Repeatable: a file already
 * removed is skipped, a VM already up is left as it is.
 */
async function finish(
  h: HostContext,
  ref: DomainRef,
  record: readonly RevertEntry[] | null,
  entry: { id: string; snapshot: string },
  pending: RevertPending,
  ctx: OpContext,
): Promise<void> {
  const vm = { vm: ref.name, uuid: ref.uuid };
  await collectOrphans(h, vm, pending.files, { referrers: ctx.referrers });
  if (pending.then) await bringUp(h, vm, pending.then, ctx);
  if (record) await writeRevertRecord(h, ref.uuid, record, entry);
}

/** Start a VM the revert left shut off, resume one it left paused — unless it is up already. */
async function bringUp(h: HostContext, vm: { vm: string; uuid: DomainUuid }, then: 'start' | 'resume', ctx: OpContext): Promise<void> {
  const { state } = parseDomState(await h.virsh.run(virshArgs.domstate(vm.uuid), { timeoutMs: 30_000 }));
  if (state === 'running') return;
  ctx.onProgress?.({ step: `${state === 'paused' ? 'resuming' : 'starting'} ${vm.vm}` });
  if (state === 'paused') await h.virsh.run(virshArgs.resume(vm.uuid), { timeoutMs: 60_000 });
  else if (state === 'shut off' || then === 'start') await h.virsh.run(virshArgs.start(vm.uuid), { timeoutMs: 120_000 });
}

/** Reverts the disks; the VM is left shut off or paused. Returns what is left to do. */
async function revertTo(h: HostContext, l: Loaded, snap: ParsedSnapshot, ctx: OpContext): Promise<RevertPending> {
  if (snap.kind === 'external') {
    if (hasNativeExternalRevert(await libvirtVersion(h, ctx.signal))) return nativeRevert(h, l, snap, ctx);
    return revertExternal(h, l, snap, ctx);
  }
  // a remote host not reached over ssh: libvirt's own revert is all there is
  const files = hostFilesIfAny(h);
  const fromSnapshots = files ? await usage(files, [], l.snapshots, ctx.signal) : undefined;
  if (fromSnapshots) assertKnown(fromSnapshots, l.vm);
  const frozen = internalContainers(snap).filter((d) => fromSnapshots && isFrozen(fromSnapshots, d.file));
  if (frozen.length === 0) return nativeRevert(h, l, snap, ctx);
  return revertInternalByCopy(h, files!, l, snap, fromSnapshots!, ctx);
}

/** Only the VM's own files can be removed: the rest are no candidates worth recording. */
const candidates = (h: HostContext, l: Loaded, files: string[]): string[] => [...new Set(files.filter((f) => isOwnFile(h, l.uuid, f)))];

async function nativeRevert(h: HostContext, l: Loaded, snap: ParsedSnapshot, ctx: OpContext): Promise<RevertPending> {
  const files = hostFilesIfAny(h);
  const old = files ? await chainsOf(files, l.disks.map((d) => d.file), ctx.signal) : [];
  ctx.onProgress?.({ step: `reverting ${l.vm} to ${snap.name}` });
  // A snapshot taken while running would come back running: paused instead, until it is recorded.
  const paused = snap.state === 'running';
  await h.virsh.run(virshArgs.snapshotRevert(l.uuid, snap.name, { paused }), { signal: ctx.signal, timeoutMs: 600_000 });
  return { then: paused ? 'resume' : null, files: candidates(h, l, old) };
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

async function revertExternal(h: HostContext, l: Loaded, snap: ParsedSnapshot, ctx: OpContext): Promise<RevertPending> {
  const files = hostFiles(h, 'reverting to an external snapshot');
  const signal = ctx.signal;
  const old = await chainsOf(files, l.disks.map((d) => d.file), signal);
  const bases = snap.disks
    .filter((d) => d.mode === 'external')
    .map((d) => {
      const b = snap.domainDisks.find((x) => x.target === d.target);
      if (!b?.file) throw new KvmopsError('unexpected-output', `snapshot ${snap.name}: no base file recorded for disk ${d.target}`);
      return { target: d.target, file: path.resolve(b.file), format: b.format };
    });
  // read as the snapshot recorded it: a base that is missing or cannot be read stops here, before anything changed
  for (const b of bases) {
    if ((await files.chain(b.file, signal, b.format)).length === 0) throw new KvmopsError('internal', `snapshot ${snap.name}: its base ${b.file} is missing`);
  }
  await powerOff(h, l, ctx);
  const changes = new Map<string, { file: string; format: string }>();
  let xml = snap.xml;
  for (const b of bases) {
    ctx.onProgress?.({ step: `new overlay for ${b.target} on ${path.basename(b.file)}` });
    // always a new file: the previous overlay is removed afterwards only if nothing needs it
    const overlay = await overlayPath(h, files, l.uuid, assertDiskTarget(b.target), signal);
    await createOverlay(h, files, overlay, b.file, b.format ?? (await formatOf(files, b.file, signal)), signal);
    changes.set(b.target, { file: overlay, format: 'qcow2' });
    xml = withOverlay(xml, b.target, overlay);
  }
  await defineDomain(h, repointDisks(l.domainXml, changes), signal);
  await withXmlFile(xml, (f) => h.virsh.run(virshArgs.snapshotRedefineCurrent(l.uuid, f), { signal }));
  return { then: takenWhileRunning(snap) ? 'start' : null, files: candidates(h, l, old) };
}

async function revertInternalByCopy(
  h: HostContext,
  files: HostFiles,
  l: Loaded,
  snap: ParsedSnapshot,
  fromSnapshots: Usage,
  ctx: OpContext,
): Promise<RevertPending> {
  const signal = ctx.signal;
  const old = await chainsOf(files, l.disks.map((d) => d.file), signal);
  await powerOff(h, l, ctx);
  const changes = new Map<string, { file: string; format: string }>();
  for (const c of internalContainers(snap)) {
    if (!isFrozen(fromSnapshots, c.file)) {
      ctx.onProgress?.({ step: `reverting ${c.target} inside ${path.basename(c.file)}` });
      await files.qemuImg(qemuImgArgs.snapshotApply(c.file, snap.name), { signal });
      changes.set(c.target, { file: c.file, format: 'qcow2' });
      continue;
    }
    ctx.onProgress?.({ step: `copying ${c.target} out of ${path.basename(c.file)} (it is the base of a later snapshot)` });
    const target = await overlayPath(h, files, l.uuid, assertDiskTarget(c.target), signal);
    const backing = (await chainFiles(files, c.file, signal))[1];
    const below = backing ? { file: backing, format: await formatOf(files, backing, signal) } : undefined;
    await files.qemuImg(qemuImgArgs.convertSnapshot(c.file, snap.name, target, below), { signal });
    await files.changed(signal);
    changes.set(c.target, { file: target, format: 'qcow2' });
  }
  await defineDomain(h, repointDisks(l.domainXml, changes), signal);
  await h.virsh.run(virshArgs.snapshotCurrent(l.uuid, snap.name), { signal });
  return { then: takenWhileRunning(snap) ? 'start' : null, files: candidates(h, l, old) };
}
