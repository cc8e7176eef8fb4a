import { toolBuilders, type ToolArgs } from './tool-args.js';

/**
 * coreutils argv builders: whole-file copies and modes (disk-copy.ts), and reading a small file
 * or asking whether one exists on a remote host (sysprep.ts). `--`: a path is never read as an
 * option.
 */

export const CP = 'cp';
export const SYNC = 'sync';
export const CHMOD = 'chmod';
export const CAT = 'cat';
export const TEST = 'test';

export type CpArgs = ToolArgs<typeof CP>;
export type SyncArgs = ToolArgs<typeof SYNC>;
export type ChmodArgs = ToolArgs<typeof CHMOD>;
export type CatArgs = ToolArgs<typeof CAT>;
export type TestArgs = ToolArgs<typeof TEST>;

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
