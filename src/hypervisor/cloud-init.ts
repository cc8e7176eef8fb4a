import { KvmopsError } from '../domain/errors.js';
import { GUESTFISH, guestfishArgs } from './guestfish-args.js';
import type { HostContext } from './host-context.js';
import { readDiskBytes, type ByteRange } from './qemu-io.js';
import { remoteShell } from './remote-exec.js';
import { runGuestfs, sysprepSetup } from './sysprep.js';
import type { CloudInit, OpContext } from './types.js';

/**
 * Does a template's guest have cloud-init? Looked for once, when the template is made, on the
 * template's own disks (read-only) on the host that holds them: a guest without it still
 * deploys, but its VMs' seeds (hostname, keys, a profile) are not applied, and `/template list`
 * and the deploy's result say so.
 *
 * Two steps, the first nearly free: (1) a few bytes at the start of each disk (qemu-io, ~0.05 s):
 * a disk with no partition table and no filesystem kvmops knows holds no OS libguestfs could
 * find — every blank or pattern-filled test disk ends here, as "unknown", without an appliance;
 * (2) otherwise libguestfs' inspection (`guestfish --ro -i`, one appliance boot: ~20–60 s under
 * TCG here) and `exists` for cloud-init's program. Inspection finding no OS, or libguestfs being
 * unavailable, is "unknown" — never "no": "no" is said only of a guest that was looked into.
 * Never fails the template: only an abort ends it with an error.
 */

/** Where cloud-init's program lives: distribution packages, and pip/source installs. */
export const CLOUD_INIT_PROGRAMS = ['/usr/bin/cloud-init', '/usr/local/bin/cloud-init'] as const;

/** The bytes the first step reads: sectors 0–3 (MBR, GPT, LVM, XFS, ext's superblock) and btrfs' magic. */
export const SIGNATURE_RANGES: readonly ByteRange[] = [
  { offset: 0, length: 2048 },
  { offset: 65600, length: 8 },
];

const at = (bytes: ReadonlyMap<number, number>, offset: number, text: string | number[]): boolean => {
  const want = typeof text === 'string' ? [...Buffer.from(text, 'latin1')] : text;
  return want.every((b, i) => bytes.get(offset + i) === b);
};

/**
 * Could a disk starting with these bytes hold an OS? A partition table (MBR boot signature
 * 0x55AA at 510 — a GPT disk's protective MBR has it too), or a filesystem or volume on the
 * whole disk: ext2/3/4 (0xEF53 at 1080), XFS (`XFSB` at 0), LVM (`LABELONE` in sectors 0–3),
 * btrfs (`_BHRfS_M` at 65600). Pure.
 */
export function couldHoldOs(bytes: ReadonlyMap<number, number>): string | null {
  if (at(bytes, 510, [0x55, 0xaa])) return 'partition table';
  if (at(bytes, 512, 'EFI PART')) return 'GPT';
  if (at(bytes, 1080, [0x53, 0xef])) return 'ext filesystem';
  if (at(bytes, 0, 'XFSB')) return 'XFS filesystem';
  for (const s of [0, 512, 1024, 1536]) if (at(bytes, s, 'LABELONE')) return 'LVM';
  if (at(bytes, 65600, '_BHRfS_M')) return 'btrfs filesystem';
  return null;
}

/** guestfish's answers to `exists` for each of CLOUD_INIT_PROGRAMS → yes / no; anything else → null. Pure. */
export function parseExists(stdout: string, expected: number): CloudInit | null {
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  if (lines.length !== expected || lines.some((l) => l !== 'true' && l !== 'false')) return null;
  return lines.includes('true') ? 'yes' : 'no';
}

export interface CloudInitFinding {
  cloudInit: CloudInit;
  /** Why, in a few words (logged, and shown on a test's diagnostic line). */
  why: string;
}

/** `disks`: the guest's disks (qcow2) with their virtual sizes. */
export async function detectCloudInit(h: HostContext, disks: ReadonlyArray<{ file: string; capacity: number }>, ctx: OpContext = {}): Promise<CloudInitFinding> {
  const remote = remoteShell(h);
  if (!h.local && !remote) return { cloudInit: 'unknown', why: `programs cannot run on host ${h.name} (not qemu+ssh://)` };
  // the job's end (cancel, lease lost) or the process's (SIGTERM from outside) is not an answer
  const aborted = (e: unknown) => ctx.signal?.aborted || (e instanceof KvmopsError && (e.code === 'aborted' || e.code === 'shutting-down'));
  try {
    let sign: string | null = null;
    for (const d of disks) {
      const ranges = SIGNATURE_RANGES.filter((r) => r.offset + r.length <= d.capacity);
      if (ranges.length === 0) continue;
      sign = couldHoldOs(await readDiskBytes(d.file, ranges, { remote, signal: ctx.signal }));
      if (sign) break;
    }
    if (!sign) return { cloudInit: 'unknown', why: 'no partition table or filesystem on its disks' };
    const setup = await sysprepSetup({ program: GUESTFISH }, remote);
    const r = await runGuestfs(setup, guestfishArgs.exist(disks.map((d) => d.file), CLOUD_INIT_PROGRAMS), { timeoutMs: 600_000, signal: ctx.signal });
    const found = parseExists(r.stdout, CLOUD_INIT_PROGRAMS.length);
    if (!found) return { cloudInit: 'unknown', why: `guestfish answered ${JSON.stringify(r.stdout.slice(0, 200))}` };
    return { cloudInit: found, why: found === 'yes' ? 'cloud-init is installed' : `none of ${CLOUD_INIT_PROGRAMS.join(', ')} in the guest` };
  } catch (e) {
    if (aborted(e)) throw e;
    // no OS found by inspection, libguestfs missing, the appliance failing: not known
    return { cloudInit: 'unknown', why: e instanceof Error ? e.message.slice(0, 300) : String(e) };
  }
}
