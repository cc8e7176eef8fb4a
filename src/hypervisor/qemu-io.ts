import { run } from './exec.js';
import { QEMU_IO, qemuIoArgs } from './qemu-io-args.js';

/**
 * Byte patterns on a local disk file with qemu-io: how the demo kit (src/demo/lab.ts) and
 * manual trials check a disk's data without a guest OS. The bot itself never runs these.
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
