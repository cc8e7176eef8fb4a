import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { KvmopsError } from '../domain/errors.js';
import { isValidName } from '../domain/names.js';
import { isDomainUuid, type DomainUuid } from './domain-uuid.js';
import { exists } from './local-files.js';
import { assertDiskTarget } from './validate.js';

/**
 * The storage dir (KVMOPS_STORAGE_DIR) on each host: where templates and VM disks live, and the
 * only place kvmops creates or removes files. Layout:
 *
 *   STORAGE/templates/   libvirt dir pool `kvmops-<id>-templates`:
 *       <template>--<target>.qcow2        one per template disk
 *       <template>.xml                    the template's domain XML
 *   STORAGE/vms/         libvirt dir pool `kvmops-<id>-vms`:
 *       <vm-uuid>.<target>.<12 hex>.qcow2 every disk, overlay or copy kvmops makes for a VM
 *       <vm-uuid>.seed.<12 hex>.iso       its cloud-init NoCloud seed (seed.ts), a read-only CD-ROM
 *
 * `<id>` is a short hash of the storage dir, so two kvmops instances (or test runs) with
 * different storage dirs on one host never share pools.
 *
 * Why these names can never collide, whatever names users pick:
 * - VM files carry no name at all: the owner's uuid (unique on the host), the disk target and
 *   a random tag (unique among the owner's files). Names may contain `--` and dots; uuids and
 *   targets contain no dot, so the name splits back into its three parts unambiguously.
 * - Template files: template names are unique in the templates dir and contain no `/`;
 *   targets contain no `-` (validate.ts), so `<a>--<t>` = `<b>--<u>` forces a = b and t = u
 *   (the last `--` is the separator); `.xml` and `.qcow2` endings keep XML and disks apart.
 * Files are found through domain XML and backing chains, never by parsing names; the name is
 * only the ownership record: a VM file is removed only by a clean-up for its owner uuid.
 */

/** Characters allowed in the storage dir: it appears inside virsh command strings. */
const SAFE_DIR = /^\/[A-Za-z0-9._/-]*$/;

export class StorageLayout {
  readonly root: string;
  readonly templatesDir: string;
  readonly vmsDir: string;
  readonly templatesPool: string;
  readonly vmsPool: string;

  constructor(root: string) {
    const norm = path.posix.normalize(root).replace(/\/+$/, '') || '/';
    if (!SAFE_DIR.test(norm) || norm === '/') {
      throw new KvmopsError('invalid-input', `KVMOPS_STORAGE_DIR must be an absolute path of A-Z a-z 0-9 . _ - /, not ${root}`);
    }
    this.root = norm;
    this.templatesDir = `${norm}/templates`;
    this.vmsDir = `${norm}/vms`;
    const id = createHash('sha256').update(norm).digest('hex').slice(0, 8);
    this.templatesPool = `kvmops-${id}-templates`;
    this.vmsPool = `kvmops-${id}-vms`;
  }

  /** True when `p` is strictly inside the storage dir (after normalisation: no `..` escape). */
  contains(p: string): boolean {
    if (!p.startsWith('/')) return false;
    const norm = path.posix.normalize(p);
    return norm.startsWith(this.root + '/') && !norm.split('/').includes('..');
  }

  /** Throws `path-outside-storage` unless `p` is inside the storage dir. */
  assertInside(p: string): string {
    if (!this.contains(p)) throw new KvmopsError('path-outside-storage', `${p} is outside the storage dir ${this.root}`);
    return path.posix.normalize(p);
  }

  isTemplateFile(p: string): boolean {
    return this.contains(p) && path.posix.normalize(p).startsWith(this.templatesDir + '/');
  }

  /** `templates/<template>--<target>.qcow2` (names checked again: defence in depth). */
  templateDisk(template: string, target: string): string {
    if (!isValidName(template)) throw new KvmopsError('invalid-input', `"${template}" is not a valid template name`);
    return `${this.templatesDir}/${template}--${assertDiskTarget(target)}.qcow2`;
  }

  /**
   * The template a file in `templates/` belongs to, read from its name (`<template>--<target>.qcow2`);
   * null for any other file. A template name never holds `--` followed by a disk target at its end.
   */
  templateOf(p: string): string | null {
    if (!this.isTemplateFile(p)) return null;
    const norm = path.posix.normalize(p);
    if (path.posix.dirname(norm) !== this.templatesDir) return null;
    const m = TEMPLATE_FILE.exec(path.posix.basename(norm));
    return m && isValidName(m[1]!) ? m[1]! : null;
  }

  /** A new path `vms/<owner>.<target>.<random>.qcow2`; the caller makes sure it is free (`freshVmFile`). */
  newVmFile(owner: DomainUuid, target: string): string {
    return `${this.vmsDir}/${owner}.${assertDiskTarget(target)}.${randomBytes(6).toString('hex')}.qcow2`;
  }

  /**
   * A new path `vms/<owner>.seed.<random>.iso`: the VM's cloud-init seed. `seed` is no disk
   * target's name clash: the `.iso` ending keeps seeds and disks apart.
   */
  newSeedFile(owner: DomainUuid): string {
    return `${this.vmsDir}/${owner}.seed.${randomBytes(6).toString('hex')}.iso`;
  }

  /** True for a `newSeedFile` name (of any owner). */
  isSeedFile(p: string): boolean {
    return this.ownerOf(p) !== null && p.endsWith('.iso');
  }

  /**
   * The domain a file in `vms/` was made for, read from its name; null for any other file
   * (old `<vm>--<target>.qcow2` names, files made by hand, files elsewhere). This is kvmops'
   * record that it made the file for that domain: clean-ups remove only files of their owner.
   */
  ownerOf(p: string): DomainUuid | null {
    if (!this.contains(p)) return null;
    const norm = path.posix.normalize(p);
    if (path.posix.dirname(norm) !== this.vmsDir) return null;
    const m = VM_FILE.exec(path.posix.basename(norm));
    return m && isDomainUuid(m[1]!) ? m[1]! : null;
  }
}

/** `<template>--<target>.qcow2` */
const TEMPLATE_FILE = /^(.+)--([a-z][a-z0-9]*)\.qcow2$/;

/** `<uuid>.<target>.<12 hex>.qcow2` (disks) or `<uuid>.seed.<12 hex>.iso` (seeds) */
const VM_FILE = /^([0-9a-f-]{36})\.(?:[a-z][a-z0-9]*\.[0-9a-f]{12}\.qcow2|seed\.[0-9a-f]{12}\.iso)$/;

/**
 * A `newVmFile` that is not taken: not on disk (local hosts; `qemu-img create` and `cp` would
 * overwrite) and not in `taken` (the pool's volumes and paths already chosen in this call).
 */
export async function freshVmFile(
  storage: StorageLayout,
  owner: DomainUuid,
  target: string,
  opts: { taken?: Set<string>; local: boolean },
): Promise<string> {
  return fresh(() => storage.newVmFile(owner, target), opts);
}

/** A `newSeedFile` that is not taken (as `freshVmFile`). */
export async function freshSeedFile(storage: StorageLayout, owner: DomainUuid, opts: { taken?: Set<string>; local: boolean }): Promise<string> {
  return fresh(() => storage.newSeedFile(owner), opts);
}

async function fresh(make: () => string, opts: { taken?: Set<string>; local: boolean }): Promise<string> {
  for (;;) {
    const p = make();
    if (opts.taken?.has(p)) continue;
    // taken before the look at the disk: calls side by side never choose the same path
    opts.taken?.add(p);
    if (opts.local && (await exists(p))) continue;
    return p;
  }
}
