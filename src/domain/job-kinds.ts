import { z } from 'zod';
import { deployNames, hostNameSchema, snapshotNameSchema, templateNameSchema, vmNameSchema } from './names.js';
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
 * What a job holds while it waits and runs (its resources), and how:
 *  - `exclusive`: nobody else may hold it; `shared`: others may share it, no one may hold it
 *    exclusively meanwhile (a deploy reads its template; a template delete writes it).
 *  - `creates`: the job brings the object into being (a deploy's VM names, a new template's
 *    name). At most one live job may create a given name: the store refuses a second one at
 *    enqueue with `name-taken` naming the first (src/jobs/enqueue.ts).
 * The claim starts a job only when no running job, and no older queued job, holds one of its
 * resources in a conflicting mode: per resource, jobs run in the order they were accepted.
 *
 * Keys are `<host>/vm/<name>` and `<host>/template/<name>`: names never contain `/` (names.ts),
 * so two keys are equal only for the same object.
 */
export type ResourceMode = 'shared' | 'exclusive';
export interface JobResource {
  key: string;
  mode: ResourceMode;
  creates: boolean;
}

export const vmResource = (host: string, vm: string): string => `${host}/vm/${vm}`;
export const templateResource = (host: string, name: string): string => `${host}/template/${name}`;

const holds = (key: string, mode: ResourceMode, creates = false): JobResource => ({ key, mode, creates });

/** The resources of a job, from its (validated) payload. The first is its main one (lock_key). */
export function jobResources(kind: JobKind, payload: Record<string, unknown>): JobResource[] {
  const p = payload as { host: string; vm: string; name: string; template: string; count: number };
  switch (kind) {
    case 'deploy':
      return [
        holds(templateResource(p.host, p.template), 'shared'),
        ...deployNames(p.name, p.count).map((n) => holds(vmResource(p.host, n), 'exclusive', true)),
      ];
    case 'template.create':
      // The source VM is only read (its disks are copied; sealing works on the copy).
      return [holds(vmResource(p.host, p.vm), 'shared'), holds(templateResource(p.host, p.name), 'exclusive', true)];
    case 'template.delete':
      return [holds(templateResource(p.host, p.name), 'exclusive')];
    case 'snapshot.create':
    case 'snapshot.revert':
    case 'snapshot.delete':
    case 'vm.start':
    case 'vm.stop':
    case 'vm.delete':
      return [holds(vmResource(p.host, p.vm), 'exclusive')];
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
