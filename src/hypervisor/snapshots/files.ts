import path from 'node:path';
import { KvmopsError } from '../../domain/errors.js';
import type { HostContext } from '../host-context.js';
import type { HostFiles } from '../host-files.js';
import type { DomainUuid } from '../domain-uuid.js';
import type { HostReferences } from '../references.js';
import { removableFiles } from '../removal.js';
import { freshVmFile } from '../storage.js';
import { qemuImgArgs } from '../qemu-img-args.js';
import type { DomainDisk } from './domain-disks.js';
import type { ParsedSnapshot } from './snapshot-xml.js';

/**
 * Which disk files a VM's domain and snapshots still need, and removing the ones nobody
 * needs. They run qemu-img and touch files on the host the files are on, through its
 * HostFiles (host-files.ts): here, or on a qemu+ssh host over ssh.
 */

/** A file's backing chain, top first, as absolute paths; [] when the file does not exist. Throws when it cannot be read. */
export async function chainFiles(files: HostFiles, file: string, signal?: AbortSignal, format?: string | null): Promise<string[]> {
  return (await files.chain(file, signal, format)).map((e) => e.file);
}

export interface Usage {
  /** Every file in a chain the domain or any snapshot uses. */
  needed: Set<string>;
  /** Files snapshots need (the domain's own chain left out). */
  neededBySnapshots: Set<string>;
  /** file → files (in use) whose immediate backing file it is. */
  dependents: Map<string, Set<string>>;
  /** External snapshot bases: their content must stay as it was at snapshot time. */
  externalBases: Map<string, string[]>;
  /** Files whose chains could not be read: what they need is unknown (see assertKnown). */
  unreadable: string[];
}

/**
 * Files in use. A snapshot needs every file of the domain XML it recorded (for an internal
 * one the qcow2 holding it, for an external one the base that became read-only) with their
 * chains; the overlay an external snapshot names is only needed while something uses it.
 */
export async function usage(
  files: HostFiles,
  domainDisks: DomainDisk[],
  snapshots: ParsedSnapshot[],
  signal?: AbortSignal,
): Promise<Usage> {
  // every chain read first, in one go (one batch per chain level on a remote host)
  const wanted: Array<{ file: string; format: string | null }> = [];
  for (const d of domainDisks) if (d.file) wanted.push({ file: path.resolve(d.file), format: d.format });
  for (const s of snapshots) for (const d of s.domainDisks) if (d.file) wanted.push({ file: path.resolve(d.file), format: d.format });
  const read = await files.chains(wanted, signal);
  const unreadable = [...read.unreadable.keys()];
  // an unreadable file itself is known to be needed; what it needs is not
  const chainOf = (f: string) => read.chains.get(f) ?? [f];
  const needed = new Set<string>();
  const neededBySnapshots = new Set<string>();
  const dependents = new Map<string, Set<string>>();
  const externalBases = new Map<string, string[]>();
  const add = (file: string, bySnapshot: boolean) => {
    const c = chainOf(path.resolve(file));
    c.forEach((f, i) => {
      needed.add(f);
      if (bySnapshot) neededBySnapshots.add(f);
      const below = c[i + 1];
      if (below) {
        let s = dependents.get(below);
        if (!s) dependents.set(below, (s = new Set()));
        s.add(f);
      }
    });
  };
  for (const d of domainDisks) if (d.file) add(d.file, false);
  for (const s of snapshots) {
    for (const d of s.domainDisks) if (d.file) add(d.file, true);
    for (const sd of s.disks) {
      if (sd.mode !== 'external') continue;
      const base = s.domainDisks.find((d) => d.target === sd.target)?.file;
      if (!base) continue;
      const b = path.resolve(base);
      externalBases.set(b, [...(externalBases.get(b) ?? []), s.name]);
    }
  }
  return { needed, neededBySnapshots, dependents, externalBases, unreadable };
}

/** Before a decision that depends on what needs what (revert in place? merge?): refuse while any chain is unknown. */
export function assertKnown(u: Usage, vm: string): void {
  if (u.unreadable.length === 0) return;
  throw new KvmopsError(
    'chain-unreadable',
    `cannot tell which files of ${vm} its snapshots need: qemu-img could not read the chain of ${u.unreadable.join(', ')}`,
    { details: { vm, unreadable: u.unreadable } },
  );
}

/** A file whose content must not change: another file backs onto it, or it is an external base. */
export function isFrozen(u: Usage, file: string): boolean {
  const f = path.resolve(file);
  return (u.dependents.get(f)?.size ?? 0) > 0 || u.externalBases.has(f);
}

/** kvmops made this file for this VM (its uuid in the name, storage.ts): it may merge into it or remove it. */
export function isOwnFile(h: HostContext, vm: DomainUuid, file: string): boolean {
  return h.storage.ownerOf(path.resolve(file)) === vm;
}

/**
 * Remove the candidates nobody needs anymore, under the ownership rule (removal.ts): made for
 * this VM, needed neither by it (`u`) nor by any other domain (`others`), all chains known.
 * Returns what was removed.
 */
export async function removeOrphans(
  h: HostContext,
  files: HostFiles,
  vm: DomainUuid,
  candidates: Iterable<string>,
  u: Usage,
  others: HostReferences,
): Promise<string[]> {
  if (u.unreadable.length) return [];
  const { remove } = removableFiles(h, vm, [...candidates].map((x) => path.resolve(x)), others, u.needed);
  return files.remove(remove.map((c) => h.storage.assertInside(c)));
}

/**
 * A new overlay (or copy) path for one of this VM's disks: `vms/<uuid>.<target>.<random>.qcow2`,
 * not on the disk yet (freshVmFile looks here; a remote host's files are asked).
 */
export async function overlayPath(h: HostContext, files: HostFiles, vm: DomainUuid, target: string, signal?: AbortSignal): Promise<string> {
  for (;;) {
    const p = h.storage.assertInside(await freshVmFile(h.storage, vm, target, { local: h.local }));
    if (h.local || !(await files.exists(p, signal))) return p;
  }
}

/** A new qcow2 overlay on `base`, backing format explicit (QEMU ≥ 6.1 needs `-F`). */
export async function createOverlay(h: HostContext, files: HostFiles, overlay: string, base: string, baseFormat: string, signal?: AbortSignal): Promise<void> {
  await files.qemuImg(qemuImgArgs.createOverlay(h.storage.assertInside(overlay), base, baseFormat), { signal, timeoutMs: 60_000 });
  await files.changed(signal);
}

export async function formatOf(files: HostFiles, file: string, signal?: AbortSignal): Promise<string> {
  const c = await files.chain(file, signal);
  if (c.length === 0) throw new KvmopsError('internal', `${file} is missing`);
  return c[0]!.format;
}
