import { toolBuilders, type ToolArgs } from './tool-args.js';

/** `xorriso` argv builders: cloud-init seed ISOs (seed.ts). */

export const XORRISO = 'xorriso';

export type XorrisoArgs = ToolArgs<typeof XORRISO>;

/** The volume label cloud-init's NoCloud datasource looks for. */
export const NOCLOUD_LABEL = 'cidata';

export const xorrisoArgs = toolBuilders(XORRISO, {
  /**
   * An ISO9660 image of the files in `dir` (Joliet and Rock Ridge names, so `meta-data` keeps its
   * dash), labelled `cidata`. Both paths are absolute paths kvmops made (never typed by a user).
   */
  seedIso: (dir: string, out: string): string[] => ['-as', 'mkisofs', '-quiet', '-output', out, '-volid', NOCLOUD_LABEL, '-joliet', '-rock', dir],
});
