import path from 'node:path';
import { z } from 'zod';
import { KvmopsError } from '../domain/errors.js';
import { run, type RunOptions } from './exec.js';
import { runOverSsh, type RemoteShell } from './remote-exec.js';
import type { ChainEntry } from './types.js';
import { QEMU_IMG, qemuImgArgs, type QemuImgArgs } from './qemu-img-args.js';

/**
 * qemu-img, here or on a remote host over ssh (remote-exec.ts). libvirt's storage-volume API is
 * preferred where it has the operation; qemu-img covers what it lacks: a whole backing chain at
 * once, commit of a shut-off overlay, a flattening copy from a file in no pool.
 */

const infoEntry = z.object({
  filename: z.string(),
  format: z.string(),
  'virtual-size': z.number(),
  'actual-size': z.number().optional(),
  'backing-filename': z.string().optional(),
  'full-backing-filename': z.string().optional(),
  'backing-filename-format': z.string().optional(),
});
const chainSchema = z.array(infoEntry).min(1);

/** Parse `qemu-img info --backing-chain --output=json` (an array, top first). */
export function parseBackingChain(json: string): ChainEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (e) {
    throw new KvmopsError('unexpected-output', 'qemu-img info did not print JSON', { cause: e });
  }
  const r = chainSchema.safeParse(data);
  if (!r.success) throw new KvmopsError('unexpected-output', `qemu-img info: ${r.error.message}`);
  return r.data.map((e) => ({
    file: e.filename,
    format: e.format,
    virtualSize: e['virtual-size'],
    ...(e['actual-size'] !== undefined ? { actualSize: e['actual-size'] } : {}),
  }));
}

/** `qemu-img convert -p` prints `    (12.50/100%)` as it goes: the fraction done, or null for another line. Pure. */
export function convertProgress(line: string): number | null {
  const m = /\((\d+(?:\.\d+)?)\/100%\)/.exec(line);
  return m ? Number(m[1]) / 100 : null;
}

export interface QemuImgOptions {
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
  onLine?: (line: string) => void;
  /** Run it on this remote host (over ssh); absent: on this machine. */
  remote?: RemoteShell | null | undefined;
}

/** The one way kvmops runs qemu-img: argv from qemuImgArgs only. */
export async function qemuImg(args: QemuImgArgs, opts: QemuImgOptions = {}): Promise<string> {
  const runOpts: RunOptions = {
    timeoutMs: opts.timeoutMs ?? 600_000,
    signal: opts.signal,
    ...(opts.onLine ? { onLine: (l: string) => opts.onLine!(l) } : {}),
  };
  const r = opts.remote ? await runOverSsh(opts.remote, QEMU_IMG, args, runOpts) : await run(QEMU_IMG, args, runOpts);
  return r.stdout;
}

/**
 * The backing chain of a disk file, top first, as absolute paths (a relative backing name is
 * relative to the file naming it). `format`, when the domain XML states it, is given to
 * qemu-img (qemuImgArgs.infoChain): a damaged header fails instead of hiding what it needs.
 */
export async function backingChain(file: string, opts: QemuImgOptions & { format?: string } = {}): Promise<ChainEntry[]> {
  const { format, ...rest } = opts;
  const entries = parseBackingChain(
    await qemuImg(qemuImgArgs.infoChain(file, format), {
      timeoutMs: 30_000,
      ...rest,
    }),
  );
  let dir = path.posix.dirname(path.posix.resolve(file));
  return entries.map((e) => {
    const abs = path.posix.resolve(dir, e.file);
    dir = path.posix.dirname(abs);
    return { ...e, file: abs };
  });
}
