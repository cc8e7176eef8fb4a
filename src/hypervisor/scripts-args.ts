import { toolBuilders, type ToolArgs } from './tool-args.js';

/**
 * argv builders for the repository's own host scripts, run with `bash` (scripts.ts): the guest
 * image builder (`scripts/guest-image.sh`) and lab hosts (`scripts/lab-host.sh`). Only the demo
 * kit (src/demo) uses them; the bot never does.
 */

export const BASH = 'bash';

export type BashArgs = ToolArgs<typeof BASH>;

/** A lab's name as lab-host.sh takes it (it names network interfaces: 15 bytes at most). */
const LAB_NAME = /^[a-z0-9][a-z0-9-]{0,9}$/;
function labName(name: string): string {
  if (!LAB_NAME.test(name)) throw new Error(`not a lab name (1–10 of a-z 0-9 -): ${JSON.stringify(name)}`);
  return name;
}

export const scriptArgs = toolBuilders(BASH, {
  /** Builds the guest image, or finds it cached; prints its path as the last line. */
  guestImage: (script: string): string[] => [script],
  /** Makes lab NAME (or finds it up) and prints its `LAB_…='…'` lines. */
  labUp: (script: string, name: string, opts: { guestNet: boolean }): string[] => [script, 'up', labName(name), ...(opts.guestNet ? ['--guest-net'] : [])],
  labDown: (script: string, name: string): string[] => [script, 'down', labName(name)],
  /** `program args…` inside the lab's namespaces; args from the program's own builder. */
  labExec: <P extends string>(script: string, name: string, program: P, args: ToolArgs<P>): string[] => [script, 'exec', labName(name), program, ...args],
});
