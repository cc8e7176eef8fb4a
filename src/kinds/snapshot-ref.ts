import { z } from 'zod';
import { hostNameSchema, snapshotNameSchema, vmNameSchema } from '../domain/names.js';
import { formatTime } from '../domain/duration.js';
import { vmUuidSchema } from './vm-ref.js';

/**
 * The snapshot a job acts on, pinned at request time (see vm-ref.ts): the VM's uuid, and the
 * snapshot's creation time and — external — its base files. A snapshot deleted and made anew
 * under the name is another snapshot: the job fails `target-changed` and touches nothing.
 */
export const snapshotPinSchema = z
  .object({
    createdAt: z.number().int().nonnegative(),
    files: z.array(z.string().min(1)).max(64),
  })
  .strict();

/** The payload of the kinds that name one snapshot of one VM (revert, delete). */
export const snapshotRefPayload = z
  .object({ host: hostNameSchema, vm: vmNameSchema, name: snapshotNameSchema, vmUuid: vmUuidSchema, snapshot: snapshotPinSchema })
  .strict();

/**
 * "known-good (taken 2026-12-07 14:03 UTC)": the snapshot as pinned, for descriptions (UTC text:
 * titles are shown as they are) and, with `at = moment`, for the approval request's lines, where
 * the chat adapter draws the time (Discord: in each reader's time zone).
 */
export const pinnedSnapshot = (p: { name: string; snapshot?: { createdAt: number } | undefined }, at: (ms: number) => string = formatTime): string =>
  p.snapshot ? `${p.name} (taken ${at(p.snapshot.createdAt * 1000)})` : p.name;

/** The host request of a pinned snapshot. */
export const snapshotTargetOf = (p: z.infer<typeof snapshotRefPayload>) => ({ vm: p.vm, vmUuid: p.vmUuid, name: p.name, pin: p.snapshot });
