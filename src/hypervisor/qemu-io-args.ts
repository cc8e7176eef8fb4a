import { toolBuilders, type ToolArgs } from './tool-args.js';

/** `qemu-io` argv builders: byte patterns on a disk file, to check data (docs/host-notes.md "Checking data"). */

export const QEMU_IO = 'qemu-io';

export type QemuIoArgs = ToolArgs<typeof QEMU_IO>;

/** `0x5a`: qemu-io's pattern byte. */
const hex = (byte: number): string => `0x${byte.toString(16)}`;

export const qemuIoArgs = toolBuilders(QEMU_IO, {
  /** Writes `byte` over `length` (qemu-io sizes: `1M`, `512k`) from offset 0; the disk's VM must be shut off. */
  writePattern: (file: string, byte: number, length: string): string[] => ['-c', `write -P ${hex(byte)} 0 ${length}`, file],
  /** Reads back and compares; read-only and `-U`, so it also works on a running VM's disk. */
  readPattern: (file: string, byte: number, length: string): string[] => ['-r', '-U', '-c', `read -P ${hex(byte)} 0 ${length}`, file],
});
