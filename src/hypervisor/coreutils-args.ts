import { toolBuilders, type ToolArgs } from './tool-args.js';

/**
 * coreutils argv builders: whole-file copies and modes (disk-copy.ts), reading a small file or
 * asking whether one exists on a remote host (sysprep.ts), and a template's travel between hosts
 * (template-copy.ts: read, write, checksum, size, rename, remove). `--`: a path is never read as
 * an option.
 */

export const CP = 'cp';
export const SYNC = 'sync';
export const CHMOD = 'chmod';
export const CAT = 'cat';
export const TEST = 'test';
export const DD = 'dd';
export const SHA256SUM = 'sha256sum';
export const STAT = 'stat';
export const LN = 'ln';
export const RM = 'rm';

export type CpArgs = ToolArgs<typeof CP>;
export type SyncArgs = ToolArgs<typeof SYNC>;
export type ChmodArgs = ToolArgs<typeof CHMOD>;
export type CatArgs = ToolArgs<typeof CAT>;
export type TestArgs = ToolArgs<typeof TEST>;
export type DdArgs = ToolArgs<typeof DD>;
export type Sha256sumArgs = ToolArgs<typeof SHA256SUM>;
export type StatArgs = ToolArgs<typeof STAT>;
export type LnArgs = ToolArgs<typeof LN>;
export type RmArgs = ToolArgs<typeof RM>;

export const cpArgs = toolBuilders(CP, {
  /** A byte copy that keeps holes as holes (a sparse qcow2 stays sparse). */
  sparse: (src: string, dst: string): string[] => ['--sparse=always', '--', src, dst],
});

export const syncArgs = toolBuilders(SYNC, {
  /** Flushes one file's data to disk (not the whole machine's). */
  file: (file: string): string[] => ['--', file],
});

export const chmodArgs = toolBuilders(CHMOD, {
  /** An octal mode (`0444`) on these files. */
  mode: (mode: string, files: readonly string[]): string[] => {
    if (!/^0[0-7]{3}$/.test(mode)) throw new Error(`not an octal file mode: ${mode}`);
    return [mode, '--', ...files];
  },
});

export const catArgs = toolBuilders(CAT, {
  /** One file's bytes on stdout. */
  file: (file: string): string[] => ['--', file],
});

export const testArgs = toolBuilders(TEST, {
  /** Exit 0 when the path exists. `test` takes no `--`; an absolute path never reads as an operator. */
  exists: (file: string): string[] => {
    if (!file.startsWith('/')) throw new Error(`not an absolute path: ${file}`);
    return ['-e', file];
  },
});

export const ddArgs = toolBuilders(DD, {
  /**
   * stdin into a NEW file (`excl`: fails if it exists), flushed to disk before dd exits
   * (`fsync`). Operands only: dd has no `--`, and `of=` keeps a path from being an option.
   */
  intoNewFile: (file: string): string[] => [`of=${file}`, 'bs=4M', 'iflag=fullblock', 'conv=excl,fsync', 'status=none'],
});

export const sha256sumArgs = toolBuilders(SHA256SUM, {
  /** `<64 hex> *<file>` per file (binary mode). */
  files: (files: readonly string[]): string[] => ['-b', '--', ...files],
});

export const statArgs = toolBuilders(STAT, {
  /** Each file's size in bytes, one a line. */
  sizes: (files: readonly string[]): string[] => ['-c', '%s', '--', ...files],
});

export const lnArgs = toolBuilders(LN, {
  /**
   * A hard link `dst` to `src` (`-T`: exactly `dst`, never inside a folder of that name): link(2),
   * atomic, and it FAILS when `dst` exists — a rename that never replaces anything.
   */
  hard: (src: string, dst: string): string[] => ['-T', '--', src, dst],
});

export const rmArgs = toolBuilders(RM, {
  /** These files, if they are there. */
  files: (files: readonly string[]): string[] => ['-f', '--', ...files],
});
