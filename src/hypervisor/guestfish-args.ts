import { toolBuilders, type ToolArgs } from './tool-args.js';

/** `guestfish` argv builders (libguestfs' shell; run like virt-sysprep: sysprep.ts). */

export const GUESTFISH = 'guestfish';

export type GuestfishArgs = ToolArgs<typeof GUESTFISH>;

export const guestfishArgs = toolBuilders(GUESTFISH, {
  /**
   * Read-only, the guest's filesystems mounted by inspection (`-i`: fails when no operating
   * system is found, or more than one), every disk of the guest as its own `-a` with its format
   * given, then `exists PATH` for each path: one `true`/`false` line each, in order. Commands
   * are command-line words (`:` between them): a path is one word, never parsed by a shell.
   */
  exist: (files: readonly string[], paths: readonly string[]): string[] => {
    for (const p of paths) if (!p.startsWith('/') || p === ':') throw new Error(`not an absolute guest path: ${p}`);
    return ['--ro', '--format=qcow2', ...files.flatMap((f) => ['-a', f]), '-i', '--', ...paths.flatMap((p, i) => [...(i ? [':'] : []), 'exists', p])];
  },
});
