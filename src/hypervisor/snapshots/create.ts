import { KvmopsError } from '../../domain/errors.js';
import type { HostContext } from '../host-context.js';
import type { CreateSnapshotRequest, OpContext, SnapshotInfo } from '../types.js';
import { assertDiskTarget, assertName, vmTarget } from '../validate.js';
import { snapshotableDisks } from './domain-disks.js';
import { withXmlFile } from './common.js';
import { overlayPath } from './files.js';
import { hostFiles, type HostFiles } from '../host-files.js';
import { toSnapshotInfo } from './list.js';
import { buildSnapshotXml, type SnapshotDiskSpec } from './snapshot-xml.js';
import { virshArgs } from '../virsh-args.js';
import { findSnapshot, load, loadByName } from './state.js';

/**
 * Create an internal or external snapshot, atomically (`--atomic`: all disks or none).
 * Internal: every snapshotted disk must be qcow2; on a running VM libvirt also saves its RAM.
 * External: disk-only; each disk gets a new qcow2 overlay in STORAGE/vms, named for the VM's
 * uuid (storage.ts), and the file it wrote to so far becomes the overlay's read-only base.
 */
export async function createSnapshot(h: HostContext, req: CreateSnapshotRequest, ctx: OpContext = {}): Promise<SnapshotInfo> {
  const { vm, vmUuid } = vmTarget(req);
  const name = assertName(req.name, 'snapshot');
  if (req.kind !== 'internal' && req.kind !== 'external') {
    throw new KvmopsError('invalid-input', `snapshot kind must be internal or external, not ${String(req.kind)}`);
  }
  const description = req.description ?? '';
  const signal = ctx.signal;
  const before = await loadByName(h, vm, signal, vmUuid);
  if (before.snapshots.some((s) => s.name === name)) {
    throw new KvmopsError('name-taken', `VM ${vm} already has a snapshot ${name}`, { details: { vm, snapshot: name } });
  }
  const disks = snapshotableDisks(before.disks);
  if (disks.length === 0) throw new KvmopsError('unsupported', `VM ${vm} has no writable file disk to snapshot`);
  const skipped = before.disks.filter((d) => !disks.includes(d));
  let specs: SnapshotDiskSpec[];
  let files: HostFiles | undefined;
  if (req.kind === 'internal') {
    const notQcow2 = disks.filter((d) => d.format !== 'qcow2');
    if (notQcow2.length > 0) {
      throw new KvmopsError(
        'unsupported',
        `internal snapshots need qcow2 disks; ${notQcow2.map((d) => `${d.target} is ${d.format ?? 'of unknown format'}`).join(', ')}: use kind external`,
      );
    }
    specs = disks.map((d) => ({ target: d.target, mode: 'internal' }));
  } else {
    const f = (files = hostFiles(h, 'an external snapshot'));
    await f.prepareVmsDir(signal);
    specs = await Promise.all(
      disks.map(async (d) => ({
        target: d.target,
        mode: 'external' as const,
        overlay: await overlayPath(h, f, before.uuid, assertDiskTarget(d.target), signal),
      })),
    );
  }
  specs.push(...skipped.map((d) => ({ target: d.target, mode: 'no' as const })));

  ctx.onProgress?.({ step: `creating ${req.kind} snapshot ${name} of ${vm}` });
  await withXmlFile(buildSnapshotXml({ name, description, disks: specs }), (file) =>
    h.virsh.run(virshArgs.snapshotCreate(before.uuid, file, { diskOnly: req.kind === 'external' }), {
      signal,
      timeoutMs: 600_000,
    }),
  );
  // libvirt made the overlays itself, outside its storage pools
  await files?.changed(signal);
  const after = await load(h, { uuid: before.uuid, name: vm }, signal);
  return toSnapshotInfo(findSnapshot(after, vm, name), after.current);
}
