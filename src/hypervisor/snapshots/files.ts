import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { KvmopsError } from '../../domain/errors.js';
import type { HostContext } from '../host-context.js';
import { backingChain, qemuImg } from '../qemu-img.js';
import { qemuImgArgs } from '../virsh-args.js';
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

/** A file's backing chain, top first, as absolute paths; [] when the file does not exist. */
export async function chainFiles(file: string, signal?: AbortSignal): Promise<string[]> {
  if (!existsSync(file)) return [];
  const entries = await backingChain(file, { signal });
  const out: string[] = [];
  let dir = path.dirname(file);
  for (const e of entries) {
    const abs = path.resolve(dir, e.file);
    out.push(abs);
    dir = path.dirname(abs);
  }
  return out;
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
  const chainOf = async (f: string) => {
    let c = chains.get(f);
    if (!c) {
      c = await chainFiles(f, signal);
      chains.set(f, c);
    }
    return c;
  };
  const needed = new Set<string>();
  const neededBySnapshots = new Set<string>();
  const dependents = new Map<string, Set<string>>();
  const externalBases = new Map<string, string[]>();
  const add = async (file: string, bySnapshot: boolean) => {
    const c = await chainOf(path.resolve(file));
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
  for (const d of domainDisks) if (d.file) await add(d.file, false);
  for (const s of snapshots) {
    for (const d of s.domainDisks) if (d.file) await add(d.file, true);
    for (const sd of s.disks) {
      if (sd.mode !== 'external') continue;
      const base = s.domainDisks.find((d) => d.target === sd.target)?.file;
      if (!base) continue;
      const b = path.resolve(base);
      externalBases.set(b, [...(externalBases.get(b) ?? []), s.name]);
    }
  }
  return { needed, neededBySnapshots, dependents, externalBases };
}

/** A file whose content must not change: another file backs onto it, or it is an external base. */
export function isFrozen(u: Usage, file: string): boolean {
  const f = path.resolve(file);
  return (u.dependents.get(f)?.size ?? 0) > 0 || u.externalBases.has(f);
}

/** Files kvmops may remove for this VM: its own files in STORAGE/vms, never a template's. */
export function isVmFile(h: HostContext, vm: string, file: string): boolean {
  const f = path.resolve(file);
  if (!h.storage.contains(f) || h.storage.isTemplateFile(f) || path.dirname(f) !== h.storage.vmsDir) return false;
  const base = path.basename(f);
  return base.startsWith(`${vm}--`) || base.startsWith(`${vm}.`);
}

/** Remove the candidates nobody needs anymore; returns what was removed. */
export async function removeOrphans(h: HostContext, vm: string, candidates: Iterable<string>, u: Usage): Promise<string[]> {
  const removed: string[] = [];
  for (const c of new Set([...candidates].map((x) => path.resolve(x)))) {
    if (u.needed.has(c) || !isVmFile(h, vm, c) || !existsSync(c)) continue;
    await rm(h.storage.assertInside(c), { force: true });
    removed.push(c);
  }
  return removed;
}

/**
 * A free overlay path `STORAGE/vms/<vm>--<target>--<snapshot>.qcow2`, or with `--2`, `--3` …
 * when that name is taken by a file still in use.
 */
export function overlayPath(h: HostContext, vm: string, target: string, snapshot: string): string {
  const stem = `${h.storage.vmsDir}/${vm}--${target}--${snapshot}`;
  for (let i = 1; i < 1000; i++) {
    const p = i === 1 ? `${stem}.qcow2` : `${stem}--${i}.qcow2`;
    if (!existsSync(p)) return h.storage.assertInside(p);
  }
  throw new KvmopsError('internal', `no free overlay name for ${stem}`);
}

/** A new qcow2 overlay on `base`, backing format explicit (QEMU ≥ 6.1 needs `-F`). */
export async function createOverlay(h: HostContext, overlay: string, base: string, baseFormat: string, signal?: AbortSignal): Promise<void> {
  await qemuImg(qemuImgArgs.createOverlay(h.storage.assertInside(overlay), base, baseFormat), { signal, timeoutMs: 60_000 });
}

export async function formatOf(file: string, signal?: AbortSignal): Promise<string> {
  const c = await backingChain(file, { signal });
  return c[0]!.format;
}
