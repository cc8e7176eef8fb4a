import { createHash } from 'node:crypto';
import path from 'node:path';
import { KvmopsError } from '../domain/errors.js';
import { isValidName } from '../domain/names.js';

/**
 * The storage dir (KVMOPS_STORAGE_DIR) on each host: where templates and VM disks live, and the
 * only place kvmops creates or removes files. Layout:
 *
 *   STORAGE/templates/   libvirt dir pool `kvmops-<id>-templates`: template disks + XML
 *   STORAGE/vms/         libvirt dir pool `kvmops-<id>-vms`: VM disks and snapshot overlays
 *
 * `<id>` is a short hash of the storage dir, so two kvmops instances (or test runs) with
 * different storage dirs on one host never share pools.
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

  /** A file name inside a pool, built only from valid names (defence in depth). */
  static fileName(...parts: string[]): string {
    for (const part of parts) {
      if (!isValidName(part)) throw new KvmopsError('invalid-input', `"${part}" is not a valid name`);
    }
    return parts.join('--');
  }
}
