import { toolBuilders, type ToolArgs } from './tool-args.js';

/**
 * `qemu-io` argv builders: byte patterns on a disk file, to check data (docs/host-notes.md
 * "Checking data"), and a few bytes of a template disk read as a hex dump (cloud-init.ts).
 */

export const QEMU_IO = 'qemu-io';

export type QemuIoArgs = ToolArgs<typeof QEMU_IO>;

/** `0x5a`: qemu-io's pattern byte. */
const hex = (byte: number): string => `0x${byte.toString(16)}`;

export const qemuIoArgs = toolBuilders(QEMU_IO, {
  /** Writes `byte` over `length` (qemu-io sizes: `1M`, `512k`) from offset 0; the disk's VM must be shut off. */
  writePattern: (file: string, byte: number, length: string): string[] => ['-c', `write -P ${hex(byte)} 0 ${length}`, file],
  /** Reads back and compares; read-only and `-U`, so it also works on a running VM's disk. */
  readPattern: (file: string, byte: number, length: string): string[] => ['-r', '-U', '-c', `read -P ${hex(byte)} 0 ${length}`, file],
  /** The bytes of each range as a hex dump (`read -v`), read-only, the qcow2 format given (not probed). */
  dump: (file: string, ranges: ReadonlyArray<{ offset: number; length: number }>): string[] => {
    for (const r of ranges) {
      if (!Number.isSafeInteger(r.offset) || r.offset < 0 || !Number.isSafeInteger(r.length) || r.length <= 0) throw new Error(`not a byte range: ${JSON.stringify(r)}`);
    }
    return ['-r', '-U', '-f', 'qcow2', ...ranges.flatMap((r) => ['-c', `read -v ${r.offset} ${r.length}`]), '--', file];
  },
});
