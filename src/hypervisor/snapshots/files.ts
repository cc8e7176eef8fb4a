import { rm } from 'node:fs/promises';
import path from 'node:path';
import { KvmopsError } from '../../domain/errors.js';
import type { HostContext } from '../host-context.js';
import { backingChain, qemuImg } from '../qemu-img.js';
import type { DomainUuid } from '../domain-uuid.js';
import type { HostReferences } from '../references.js';
import { removableFiles } from '../removal.js';
import { exists } from '../local-files.js';
import { freshVmFile } from '../storage.js';
import { qemuImgArgs } from '../qemu-img-args.js';
import type { DomainDisk } from './domain-disks.js';
import type { ParsedSnapshot } from './snapshot-xml.js';

/**
 * Which disk files a VM's domain and snapshots still need, and removing the ones nobody
 * needs. These run qemu-img and touch files directly, so they need a local host.
 */

export function assertLocal(h: HostContext, what: string): void {
  if (!h.local) {
    throw new KvmopsError('unsupported', `${what} needs direct access to the disk files; host ${h.name} (${h.uri}) is remote`);
  }
}

/** A file's backing chain, top first, as absolute paths; [] when the file does not exist. Throws when it cannot be read. */
export async function chainFiles(file: string, signal?: AbortSignal, format?: string | null): Promise<string[]> {
  if (!(await exists(file))) return [];
  return (await backingChain(file, { signal, ...(format ? { format } : {}) })).map((e) => e.file);
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
  domainDisks: DomainDisk[],
  snapshots: ParsedSnapshot[],
  signal?: AbortSignal,
): Promise<Usage> {
  const chains = new Map<string, string[]>();
  const unreadable: string[] = [];
  const chainOf = async (f: string, format: string | null) => {
    let c = chains.get(f);
    if (!c) {
      try {
        c = await chainFiles(f, signal, format);
      } catch (e) {
        if (signal?.aborted) throw e;
        unreadable.push(f);
        c = [f]; // the file itself is known to be needed; what it needs is not
      }
      chains.set(f, c);
    }
    return c;
  };
  const needed = new Set<string>();
  const neededBySnapshots = new Set<string>();
  const dependents = new Map<string, Set<string>>();
  const externalBases = new Map<string, string[]>();
  const add = async (file: string, format: string | null, bySnapshot: boolean) => {
    const c = await chainOf(path.resolve(file), format);
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
  for (const d of domainDisks) if (d.file) await add(d.file, d.format, false);
  for (const s of snapshots) {
    for (const d of s.domainDisks) if (d.file) await add(d.file, d.format, true);
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
export async function removeOrphans(h: HostContext, vm: DomainUuid, candidates: Iterable<string>, u: Usage, others: HostReferences): Promise<string[]> {
  if (u.unreadable.length) return [];
  const { remove } = removableFiles(h, vm, [...candidates].map((x) => path.resolve(x)), others, u.needed);
  const removed: string[] = [];
  for (const c of remove) {
    if (!(await exists(c))) continue;
    await rm(h.storage.assertInside(c), { force: true });
    removed.push(c);
  }
  return removed;
}

/** A new overlay (or copy) path for one of this VM's disks: `vms/<uuid>.<target>.<random>.qcow2`. */
export async function overlayPath(h: HostContext, vm: DomainUuid, target: string): Promise<string> {
  return h.storage.assertInside(await freshVmFile(h.storage, vm, target, { local: true }));
}

/** A new qcow2 overlay on `base`, backing format explicit (QEMU ≥ 6.1 needs `-F`). */
export async function createOverlay(h: HostContext, overlay: string, base: string, baseFormat: string, signal?: AbortSignal): Promise<void> {
  await qemuImg(qemuImgArgs.createOverlay(h.storage.assertInside(overlay), base, baseFormat), { signal, timeoutMs: 60_000 });
}

export async function formatOf(file: string, signal?: AbortSignal): Promise<string> {
  const c = await backingChain(file, { signal });
  return c[0]!.format;
}
