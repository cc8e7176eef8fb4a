import { run } from './exec.js';
import { QEMU_IO, qemuIoArgs } from './qemu-io-args.js';
import { runOverSsh, type RemoteShell } from './remote-exec.js';

/**
 * Byte patterns on a local disk file with qemu-io: how the demo kit (src/demo/lab.ts) and
 * manual trials check a disk's data without a guest OS. The bot itself reads only a few bytes
 * of a template disk (`readDiskBytes`: could it hold an OS at all? cloud-init.ts), here or on
 * the remote host that holds it.
 */

const TIMEOUT_MS = 30_000;

/** Writes `byte` over the first `length` bytes (qemu-io sizes: `1M`); the disk's VM must be shut off. */
export async function writeDiskPattern(file: string, byte: number, length: string): Promise<void> {
  await run(QEMU_IO, qemuIoArgs.writePattern(file, byte, length), { timeoutMs: TIMEOUT_MS });
}

/** True when the first `length` bytes all hold `byte` (read-only, `-U`: also while the VM runs). */
export async function hasDiskPattern(file: string, byte: number, length: string): Promise<boolean> {
  const r = await run(QEMU_IO, qemuIoArgs.readPattern(file, byte, length), { timeoutMs: TIMEOUT_MS });
  return !/Pattern verification failed/.test(r.stdout + r.stderr);
}

/** A range of bytes to read. */
export interface ByteRange {
  offset: number;
  length: number;
}

/**
 * `qemu-io read -v` hex dump lines (`00000200:  45 46 49 20 …  EFI …`) → offset → byte. Lines
 * that are not dump lines (qemu-io's "read N/N bytes" summaries) are ignored. Pure.
 */
export function parseHexDump(stdout: string): Map<number, number> {
  const bytes = new Map<number, number>();
  for (const line of stdout.split('\n')) {
    const m = /^([0-9a-f]{8}):  ((?:[0-9a-f]{2} ){0,15}[0-9a-f]{2})(?:  |$)/.exec(line);
    if (!m) continue;
    const base = parseInt(m[1]!, 16);
    m[2]!.split(' ').forEach((h, i) => bytes.set(base + i, parseInt(h, 16)));
  }
  return bytes;
}

/** The bytes of `ranges` of a qcow2 disk (read-only), here or on `remote`. */
export async function readDiskBytes(
  file: string,
  ranges: readonly ByteRange[],
  opts: { remote: RemoteShell | null; signal?: AbortSignal | undefined },
): Promise<Map<number, number>> {
  const args = qemuIoArgs.dump(file, ranges);
  const runOpts = { timeoutMs: TIMEOUT_MS, signal: opts.signal };
  const r = opts.remote ? await runOverSsh(opts.remote, QEMU_IO, args, runOpts) : await run(QEMU_IO, args, runOpts);
  return parseHexDump(r.stdout);
}
