import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { KvmopsError } from '../domain/errors.js';
import { readChains } from './chains.js';
import type { HostContext } from './host-context.js';
import { exists } from './local-files.js';
import { throwFirstError } from './multi.js';
import { ensurePools } from './pools.js';
import { backingChain, qemuImg, type QemuImgOptions } from './qemu-img.js';
import type { QemuImgArgs } from './qemu-img-args.js';
import { remoteShell, requireRemoteShell, type RemoteShell } from './remote-exec.js';
import { deleteVolumes } from './removal.js';
import type { ChainEntry } from './types.js';
import { virshArgs } from './virsh-args.js';

/**
 * The disk-file operations snapshot work needs (read a chain, look whether a file is there, run
 * qemu-img on a file, remove files), on the host the files live on — one interface, two
 * implementations, so create / revert / delete are one code path for every host:
 *
 * - local: qemu-img here, node's fs for existence, mkdir and removal.
 * - qemu+ssh://: qemu-img THERE over ssh (remote-exec.ts; argv from qemu-img-args.ts, quoted
 *   by construction), chains and existence through libvirt's storage pools (chains.ts: a
 *   file of the storage dir is a volume of its pool; one outside every pool is read by
 *   qemu-img over ssh), removal by `vol-delete` (removal.ts).
 *
 * Fail closed, as locally: a chain that cannot be read is `unreadable` (`chain` throws
 * `chain-unreadable`), never an absent file. On a remote host "absent" is libvirt's "no such
 * volume" for a path inside the storage dir — which proves absence only while the pools know
 * every file: files written behind libvirt's back (qemu-img, a disk-only snapshot's overlays)
 * are volumes only after a `pool-refresh`. So every read of the remote implementation refreshes
 * both pools right before it, in the same virsh process (chains.ts `fresh`: a refresh that fails
 * fails the read), and every writer calls `changed()` after writing.
 */
export interface HostFiles {
  /** The chains of these files, top first, absolute paths; `[]` when the file does not exist. */
  chains(disks: ReadonlyArray<{ file: string; format?: string | null }>, signal?: AbortSignal): Promise<FileChains>;
  /** One file's chain; `[]` when it does not exist; throws when it cannot be read. */
  chain(file: string, signal?: AbortSignal, format?: string | null): Promise<ChainEntry[]>;
  /** Whether the file is there; throws when that cannot be told (local EIO, remote unreadable). */
  exists(file: string, signal?: AbortSignal): Promise<boolean>;
  /** qemu-img on the host the files are on (argv from qemuImgArgs only). */
  qemuImg(args: QemuImgArgs, opts?: Omit<QemuImgOptions, 'remote'>): Promise<string>;
  /** STORAGE/vms exists (where overlays are made). */
  prepareVmsDir(signal?: AbortSignal): Promise<void>;
  /** Files of the storage dir were written behind libvirt's back: make them known. */
  changed(signal?: AbortSignal): Promise<void>;
  /** Removes files of the storage dir (each checked inside it). Returns the removed: here the files that were there; on a remote host every one (gone now). */
  remove(files: readonly string[], signal?: AbortSignal): Promise<string[]>;
}

export interface FileChains {
  /** file → its chain's files, top first (`[]`: the file does not exist). */
  chains: Map<string, string[]>;
  /** file → why its chain could not be read. */
  unreadable: Map<string, string>;
}

/** Files of `h`, for `what` (a message: "deleting an external snapshot"): `unsupported` on a remote host not reached over ssh. */
export function hostFiles(h: HostContext, what: string): HostFiles {
  return h.local ? new LocalFiles(h) : new SshFiles(h, requireRemoteShell(h, what));
}

/** Files of `h`, or null on a remote host not reached over ssh (where only libvirt's API is). */
export function hostFilesIfAny(h: HostContext): HostFiles | null {
  if (h.local) return new LocalFiles(h);
  const s = remoteShell(h);
  return s ? new SshFiles(h, s) : null;
}

function unreadableError(file: string, why: string): KvmopsError {
  return new KvmopsError('chain-unreadable', `cannot read the backing chain of ${file}: ${why}`, { details: { file } });
}

class LocalFiles implements HostFiles {
  constructor(private readonly h: HostContext) {}

  async chain(file: string, signal?: AbortSignal, format?: string | null): Promise<ChainEntry[]> {
    if (!(await exists(file))) return [];
    return backingChain(file, { signal, ...(format ? { format } : {}) });
  }

  /** One file after the other, as the snapshot code always read them here. */
  async chains(disks: ReadonlyArray<{ file: string; format?: string | null }>, signal?: AbortSignal): Promise<FileChains> {
    const out: FileChains = { chains: new Map(), unreadable: new Map() };
    for (const d of disks) {
      if (out.chains.has(d.file) || out.unreadable.has(d.file)) continue;
      try {
        out.chains.set(d.file, (await this.chain(d.file, signal, d.format)).map((e) => e.file));
      } catch (e) {
        if (signal?.aborted) throw e;
        out.unreadable.set(d.file, e instanceof Error ? e.message : String(e));
      }
    }
    return out;
  }

  exists(file: string): Promise<boolean> {
    return exists(file);
  }

  qemuImg(args: QemuImgArgs, opts: Omit<QemuImgOptions, 'remote'> = {}): Promise<string> {
    return qemuImg(args, opts);
  }

  async prepareVmsDir(): Promise<void> {
    await mkdir(this.h.storage.vmsDir, { recursive: true });
  }

  async changed(): Promise<void> {}

  async remove(files: readonly string[]): Promise<string[]> {
    const removed: string[] = [];
    for (const c of files) {
      if (!(await exists(c))) continue;
      await rm(this.h.storage.assertInside(c), { force: true });
      removed.push(c);
    }
    return removed;
  }
}

class SshFiles implements HostFiles {
  constructor(
    private readonly h: HostContext,
    private readonly shell: RemoteShell,
  ) {}

  /** The pools exist (once per host context); each read refreshes them itself (see HostFiles). */
  private ready(signal?: AbortSignal): Promise<void> {
    return ensurePools(this.h, { signal });
  }

  async chains(disks: ReadonlyArray<{ file: string; format?: string | null }>, signal?: AbortSignal): Promise<FileChains> {
    await this.ready(signal);
    const read = await readChains(
      this.h,
      disks.map((d) => ({ file: d.file, format: d.format ?? undefined })),
      { signal },
      { fresh: true },
    );
    return {
      chains: new Map([...read.chains].map(([f, c]) => [f, c.map((e) => path.posix.resolve(e.file))])),
      unreadable: read.unreadable,
    };
  }

  async chain(file: string, signal?: AbortSignal, format?: string | null): Promise<ChainEntry[]> {
    await this.ready(signal);
    const read = await readChains(this.h, [{ file, format: format ?? undefined }], { signal }, { fresh: true });
    const why = read.unreadable.get(file);
    if (why !== undefined) throw unreadableError(file, why);
    return read.chains.get(file) ?? [];
  }

  async exists(file: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.chain(file, signal)).length > 0;
  }

  qemuImg(args: QemuImgArgs, opts: Omit<QemuImgOptions, 'remote'> = {}): Promise<string> {
    return qemuImg(args, { ...opts, remote: this.shell });
  }

  async prepareVmsDir(signal?: AbortSignal): Promise<void> {
    await ensurePools(this.h, { signal });
  }

  async changed(signal?: AbortSignal): Promise<void> {
    const { templatesPool, vmsPool } = this.h.storage;
    // a refresh that fails leaves "no such volume" meaning nothing: fail closed
    throwFirstError(await this.h.virsh.multi([virshArgs.poolRefresh(vmsPool), virshArgs.poolRefresh(templatesPool)], { timeoutMs: 60_000, signal }));
  }

  /** `vol-delete` after a refresh, where "no such volume" is "already gone": all of them are gone after it. */
  remove(files: readonly string[], signal?: AbortSignal): Promise<string[]> {
    return deleteVolumes(this.h, files, { signal });
  }
}
