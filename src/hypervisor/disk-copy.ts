import { chmod, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HostContext } from './host-context.js';
import { run } from './exec.js';
import { convertProgress, qemuImg } from './qemu-img.js';
import { withTempDir } from './tempdir.js';
import { CP, SYNC, cpArgs, syncArgs } from './coreutils-args.js';
import { qemuImgArgs } from './qemu-img-args.js';
import { virshArgs, volumeXml } from './virsh-args.js';

/**
 * Whole-disk copies. Remote hosts: libvirt's `vol-create-from` (it converts, so a backing chain
 * is flattened, and the bytes never leave the host). Local hosts may use faster or more
 * talkative tools on the same files: `qemu-img convert -p` (flattens, reports progress) and
 * `cp --sparse=always` (for a chain-free qcow2 a byte copy is a valid independent disk; measured
 * in bench/hypervisor.ts against vol-create-from).
 */

export interface CopyOptions {
  signal?: AbortSignal | undefined;
  /** 0..1 */
  onFraction?: (f: number) => void;
  timeoutMs?: number;
}

const COPY_TIMEOUT_MS = 6 * 3_600_000;

/** Flattening copy into a pool: local `qemu-img convert`, remote `vol-create-from`. `dst` is a path inside `pool`'s dir. */
export async function copyFlat(
  h: HostContext,
  src: { file: string; format: string },
  pool: string,
  dst: string,
  opts: CopyOptions & { mode?: string } = {},
): Promise<void> {
  h.storage.assertInside(dst);
  if (h.local) {
    await qemuImg(qemuImgArgs.convertFlat(src.file, src.format, dst), {
      timeoutMs: opts.timeoutMs ?? COPY_TIMEOUT_MS,
      signal: opts.signal,
      onLine: (l) => {
        const f = convertProgress(l);
        if (f !== null) opts.onFraction?.(f);
      },
    });
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
