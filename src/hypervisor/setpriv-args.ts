import { toolBuilders, type ToolArgs } from './tool-args.js';

/** util-linux `setpriv` argv builders: how exec.ts starts every other program (its argv is already built). */

export const SETPRIV = '/usr/bin/setpriv';

export type SetprivArgs = ToolArgs<typeof SETPRIV>;

export const setprivArgs = toolBuilders(SETPRIV, {
  /** `program args…`, killed (SIGKILL) when the process that started it dies. */
  dieWithParent: (program: string, args: readonly string[]): string[] => ['--pdeathsig', 'KILL', '--', program, ...args],
});
