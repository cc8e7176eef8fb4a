import { toolBuilders, type ToolArgs } from './tool-args.js';

/** `qemu-img` argv builders: run here, or on a qemu+ssh host over ssh (qemu-img.ts, remote-exec.ts). */

export const QEMU_IMG = 'qemu-img';

export type QemuImgArgs = ToolArgs<typeof QEMU_IMG>;

export const qemuImgArgs = toolBuilders(QEMU_IMG, {
  /**
   * The whole backing chain as JSON, top first. `-U`: readable while a VM runs. `format` (when
   * the domain states it) is not probed: a damaged qcow2 header then fails instead of reading
   * as a raw disk with no backing file.
   */
  infoChain: (file: string, format?: string): string[] => [
    'info',
    '-U',
    ...(format ? ['-f', format] : []),
    '--backing-chain',
    '--output=json',
    file,
  ],
  /** A new empty qcow2. */
  create: (dst: string, sizeBytes: number): string[] => ['create', '-q', '-f', 'qcow2', dst, `${sizeBytes}`],
  snapshotList: (file: string): string[] => ['snapshot', '-l', file],
  snapshotApply: (file: string, snapshot: string): string[] => ['snapshot', '-q', '-a', snapshot, file],
  snapshotDelete: (file: string, snapshot: string): string[] => ['snapshot', '-q', '-d', snapshot, file],
  /** Merge an overlay into its backing file, keeping the overlay (`-d`). */
  commit: (overlay: string): string[] => ['commit', '-q', '-d', overlay],
  /** A new qcow2 holding an internal snapshot's state, on `backing` (format explicit) when given. */
  convertSnapshot: (src: string, snapshot: string, dst: string, backing?: { file: string; format: string }): string[] => [
    'convert',
    '-q',
    '-O',
    'qcow2',
    '-l',
    `snapshot.name=${snapshot}`,
    ...(backing ? ['-B', backing.file, '-F', backing.format] : []),
    src,
    dst,
  ],
  /** Flattening copy: reads the whole chain of `src`, writes one chain-free qcow2. `-p` = progress. */
  convertFlat: (src: string, srcFormat: string, dst: string): string[] => [
    'convert',
    '-p',
    '-f',
    srcFormat,
    '-O',
    'qcow2',
    '-o',
    'compat=1.1',
    src,
    dst,
  ],
  /** A qcow2 overlay on `backing`, whose format is given explicitly (QEMU ≥ 6.1 needs `-F`). */
  createOverlay: (dst: string, backing: string, backingFormat = 'qcow2'): string[] => [
    'create',
    '-q',
    '-f',
    'qcow2',
    '-b',
    backing,
    '-F',
    backingFormat,
    dst,
  ],
});
