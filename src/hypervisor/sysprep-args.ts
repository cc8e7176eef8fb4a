import { toolBuilders, type ToolArgs } from './tool-args.js';

/** `virt-sysprep` argv builders. The program itself is found at run time (sysprep.ts). */

export const VIRT_SYSPREP = 'virt-sysprep';

export type SysprepArgs = ToolArgs<typeof VIRT_SYSPREP>;

export const sysprepArgs = toolBuilders(VIRT_SYSPREP, {
  /** Seals one guest: every disk as its own `-a`, in one run (virt-sysprep sees the whole guest), format given, not probed. */
  seal: (files: readonly string[]): string[] => ['--format', 'qcow2', ...files.flatMap((f) => ['-a', f])],
});
