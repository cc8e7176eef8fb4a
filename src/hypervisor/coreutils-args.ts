import { toolBuilders, type ToolArgs } from './tool-args.js';

/** coreutils argv builders: local whole-file copies (disk-copy.ts). `--`: a path is never read as an option. */

export const CP = 'cp';
export const SYNC = 'sync';

export type CpArgs = ToolArgs<typeof CP>;
export type SyncArgs = ToolArgs<typeof SYNC>;

export const cpArgs = toolBuilders(CP, {
  /** A byte copy that keeps holes as holes (a sparse qcow2 stays sparse). */
  sparse: (src: string, dst: string): string[] => ['--sparse=always', '--', src, dst],
});

export const syncArgs = toolBuilders(SYNC, {
  /** Flushes one file's data to disk (not the whole machine's). */
  file: (file: string): string[] => ['--', file],
});
