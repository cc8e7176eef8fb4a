import { z } from 'zod';
import { hostNameSchema, snapshotNameSchema, templateNameSchema, vmNameSchema } from './names.js';
import { descriptionSchema } from './text.js';

/**
 * Job kinds and their payloads. A payload is validated by its kind's schema when the job is
 * enqueued *and* again when it is claimed (a row edited by hand, or written by an older
 * version, must not reach libvirt unchecked).
 */

const host = hostNameSchema;

export const deployPayload = z
  .object({
    host,
    template: templateNameSchema,
    name: vmNameSchema,
    mode: z.enum(['thin', 'clone']),
    count: z.number().int().min(1).max(20),
    start: z.boolean(),
  })
  .strict()
  .refine((p) => p.count === 1 || p.name.length <= 60, {
    message: 'with count > 1 the name may have at most 60 characters (a -NN suffix is added)',
    path: ['name'],
  });

export const templateCreatePayload = z
  .object({ host, vm: vmNameSchema, name: templateNameSchema, seal: z.boolean() })
  .strict();
export const templateDeletePayload = z.object({ host, name: templateNameSchema }).strict();

export const snapshotCreatePayload = z
  .object({
    host,
    vm: vmNameSchema,
    name: snapshotNameSchema,
    kind: z.enum(['internal', 'external']),
    description: descriptionSchema.optional(),
  })
  .strict();
export const snapshotRefPayload = z.object({ host, vm: vmNameSchema, name: snapshotNameSchema }).strict();

export const vmPayload = z.object({ host, vm: vmNameSchema }).strict();
export const vmStopPayload = z.object({ host, vm: vmNameSchema, force: z.boolean() }).strict();

export const JOB_PAYLOADS = {
  deploy: deployPayload,
  'template.create': templateCreatePayload,
  'template.delete': templateDeletePayload,
  'snapshot.create': snapshotCreatePayload,
  'snapshot.revert': snapshotRefPayload,
  'snapshot.delete': snapshotRefPayload,
  'vm.start': vmPayload,
  'vm.stop': vmStopPayload,
  'vm.delete': vmPayload,
} as const;

export type JobKind = keyof typeof JOB_PAYLOADS;
export const JOB_KINDS = Object.keys(JOB_PAYLOADS) as JobKind[];
export type JobPayload<K extends JobKind> = z.infer<(typeof JOB_PAYLOADS)[K]>;

/** Kinds that start in `awaiting_approval` (CONTRACT.md: destructive). */
export const KINDS_NEEDING_APPROVAL: ReadonlySet<JobKind> = new Set<JobKind>(['snapshot.revert', 'vm.delete']);

/**
 * What a job locks: at most one running job per lock key, and jobs with the same key run in the
 * order they were accepted. Deploy locks the template (its VMs do not exist yet; the names are
 * checked by the executor); template.create locks the source VM.
 */
export function lockKey(kind: JobKind, payload: Record<string, unknown>): string {
  const p = payload as { host: string; vm?: string; name?: string; template?: string };
  switch (kind) {
    case 'deploy':
      return `${p.host}/template/${p.template}`;
    case 'template.delete':
      return `${p.host}/template/${p.name}`;
    case 'template.create':
    case 'snapshot.create':
    case 'snapshot.revert':
    case 'snapshot.delete':
    case 'vm.start':
    case 'vm.stop':
    case 'vm.delete':
      return `${p.host}/vm/${p.vm}`;
  }
}

/** Same kind + target + options: a live job with this key refuses a duplicate. */
export function dedupeKey(kind: JobKind, payload: Record<string, unknown>): string {
  const sorted = Object.fromEntries(Object.entries(payload).sort(([a], [b]) => a.localeCompare(b)));
  return `${kind}:${JSON.stringify(sorted)}`;
}

export const JOB_STATES = ['awaiting_approval', 'queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINAL_STATES: ReadonlySet<JobState> = new Set<JobState>(['succeeded', 'failed', 'cancelled']);
