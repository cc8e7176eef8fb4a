import { chmod, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HostContext } from './host-context.js';
import { run } from './exec.js';
import { convertProgress, qemuImg } from './qemu-img.js';
import { withTempDir } from './tempdir.js';
import { CHMOD, CP, SYNC, chmodArgs, cpArgs, syncArgs } from './coreutils-args.js';
import { remoteShell, runOverSsh } from './remote-exec.js';
import { qemuImgArgs } from './qemu-img-args.js';
import { virshArgs, volumeXml } from './virsh-args.js';

/**
 * Whole-disk copies; the bytes never leave the host. Remote hosts: libvirt's `vol-create-from`
 * (it converts, so a backing chain is flattened) — but its input must be a volume of a pool, and
 * a VM made by hand usually has its disk in none; so a flattening copy on a qemu+ssh host runs
 * `qemu-img convert -p` THERE over ssh (remote-exec.ts), as it runs here on a local host (any
 * source path, progress reported). Local hosts may also use `cp --sparse=always` (for a
 * chain-free qcow2 a byte copy is a valid independent disk; measured in bench/hypervisor.ts
 * against vol-create-from).
 */

export interface CopyOptions {
  signal?: AbortSignal | undefined;
  /** 0..1 */
  onFraction?: (f: number) => void;
  timeoutMs?: number;
}

const COPY_TIMEOUT_MS = 6 * 3_600_000;

/**
 * Flattening copy into a pool: `qemu-img convert` on the host (here, or there over ssh; then the
 * pool is refreshed so the copy is a volume), `vol-create-from` on a remote host without ssh
 * (which alone applies `mode`: the others leave it to `makeReadOnly`, after sealing).
 * `dst` is a path inside `pool`'s dir.
 */
export async function copyFlat(
  h: HostContext,
  src: { file: string; format: string },
  pool: string,
  dst: string,
  opts: CopyOptions & { mode?: string } = {},
): Promise<void> {
  h.storage.assertInside(dst);
  const remote = remoteShell(h);
  if (h.local || remote) {
    await qemuImg(qemuImgArgs.convertFlat(src.file, src.format, dst), {
      timeoutMs: opts.timeoutMs ?? COPY_TIMEOUT_MS,
      signal: opts.signal,
      remote,
      onLine: (l) => {
        const f = convertProgress(l);
        if (f !== null) opts.onFraction?.(f);
      },
    });
    // files written behind libvirt's back are volumes once the pool has looked
    if (remote) await h.virsh.run(virshArgs.poolRefresh(pool), { timeoutMs: 60_000, signal: opts.signal });
    return;
  }
  await volCreateFrom(h, pool, path.posix.basename(dst), src.file, opts);
}

/** libvirt's volume clone (by the input volume's path, in any pool of the host). */
export async function volCreateFrom(
  h: HostContext,
  pool: string,
  name: string,
  inputPath: string,
  opts: CopyOptions & { mode?: string } = {},
): Promise<void> {
  await withTempDir(async (dir) => {
    const xmlFile = path.join(dir, 'vol.xml');
    await writeFile(xmlFile, volumeXml(name, opts.mode ? { mode: opts.mode } : {}));
    await h.virsh.run(virshArgs.volCreateFrom(pool, xmlFile, inputPath), {
      timeoutMs: opts.timeoutMs ?? COPY_TIMEOUT_MS,
      signal: opts.signal,
    });
  });
}

/**
 * Local sparse byte copy of a chain-free image, made durable (`sync FILE`), mode 0600 (the
 * source may be a read-only template disk). Progress: the copy's allocated bytes against the
 * source's, polled while cp runs.
 */
export async function copySparseLocal(src: string, dst: string, opts: CopyOptions = {}): Promise<void> {
  const total = Math.max(1, (await stat(src)).blocks * 512);
  const timer = opts.onFraction
    ? setInterval(() => {
        stat(dst).then(
          (s) => opts.onFraction!(Math.min(1, (s.blocks * 512) / total)),
          () => {},
        );
      }, 500)
    : undefined;
  try {
    await run(CP, cpArgs.sparse(src, dst), { timeoutMs: opts.timeoutMs ?? COPY_TIMEOUT_MS, signal: opts.signal });
  } finally {
    if (timer) clearInterval(timer);
  }
  await chmod(dst, 0o600);
  await run(SYNC, syncArgs.file(dst), { timeoutMs: 600_000, signal: opts.signal });
  opts.onFraction?.(1);
}

/**
 * Mode 0444 on files of the storage dir (template disks, once sealed): here with chmod(2), on a
 * qemu+ssh host with `chmod` there; on another remote host `vol-create-from` gave the mode.
 */
export async function makeReadOnly(h: HostContext, files: readonly string[], signal?: AbortSignal): Promise<void> {
  for (const f of files) h.storage.assertInside(f);
  if (files.length === 0) return;
  if (h.local) {
    for (const f of files) await chmod(f, 0o444);
    return;
  }
  const remote = remoteShell(h);
  if (remote) await runOverSsh(remote, CHMOD, chmodArgs.mode('0444', files), { timeoutMs: 60_000, signal });
}
