import { z } from 'zod';
import { KvmopsError, isKvmopsError } from '../domain/errors.js';
import { KINDS_NEEDING_APPROVAL, type JobKind } from '../kinds/index.js';
import { hostNameSchema, nameSchema } from '../domain/names.js';
import type { SnapshotInfo, TemplateInfo, VmSummary } from '../hypervisor/types.js';
import type { Job } from '../jobs/types.js';
import type { HandlerContext } from './command.js';
import { describeJob, formatDuration, formatTime } from './format.js';
import { person } from './people.js';
import type { Services } from './services.js';
import type { OptionDef, Reply } from './types.js';

/**
 * What several command modules share: option definitions and schemas that must be identical
 * everywhere (CONTRACT.md: `host` optional everywhere, names 1–63 safe characters), the cheap
 * existence checks made before a job exists, and the enqueue-and-reply step.
 */

// ---- option definitions ---------------------------------------------------------------------

const NAME_MAX = 63;

export const hostOption: OptionDef = {
  name: 'host',
  description: 'Host (default: the first configured host)',
  type: 'string',
  required: false,
  maxLength: NAME_MAX,
  autocomplete: 'host',
};

export function vmOption(description = 'VM name'): OptionDef {
  return { name: 'vm', description, type: 'string', required: true, maxLength: NAME_MAX, autocomplete: 'vm' };
}

/** A name option: `source` set when it names something that exists (autocomplete), unset when it names something new. */
export function nameOption(description: string, source?: 'template' | 'snapshot'): OptionDef {
  return {
    name: 'name',
    description,
    type: 'string',
    required: true,
    minLength: 1,
    maxLength: NAME_MAX,
    ...(source ? { autocomplete: source } : {}),
  };
}

// ---- option schemas -------------------------------------------------------------------------

export const nameField = nameSchema;
export const hostField = hostNameSchema.optional();

// ---- host and existence checks --------------------------------------------------------------

/** The named host or the default (first) one; a name not in KVMOPS_HOSTS → `host-not-found`. */
export function resolveHost(services: Services, host: string | undefined): string {
  const hosts = services.catalog.hosts();
  if (host === undefined) return services.catalog.defaultHost();
  if (!hosts.includes(host)) {
    throw new KvmopsError('host-not-found', `There is no host "${host}". Hosts: ${hosts.join(', ')}.`, { details: { host } });
  }
  return host;
}

/**
 * Looks `pick` up in a cached list; on a miss reads the host again before giving up. A cache
 * hit is trusted (the executor checks again); a refusal never rests on a stale list.
 */
async function findFresh<T, R>(
  read: (fresh: boolean) => Promise<T[]>,
  pick: (items: T[]) => R | undefined,
): Promise<R | undefined> {
  const cached = pick(await read(false));
  if (cached !== undefined) return cached;
  return pick(await read(true));
}

export async function requireVm(services: Services, host: string, vm: string): Promise<VmSummary> {
  const found = await findFresh(
    (fresh) => services.catalog.vms(host, { fresh }),
    (vms) => vms.find((v) => v.name === vm),
  );
  if (!found) throw new KvmopsError('vm-not-found', `There is no VM "${vm}" on ${host}.`, { details: { host, vm } });
  return found;
}

export async function requireTemplate(services: Services, host: string, name: string): Promise<TemplateInfo> {
  const found = await findFresh(
    (fresh) => services.catalog.templates(host, { fresh }),
    (ts) => ts.find((t) => t.name === name),
  );
  if (!found) {
    throw new KvmopsError('template-not-found', `There is no template "${name}" on ${host}.`, { details: { host, template: name } });
  }
  return found;
}

export async function requireSnapshot(services: Services, host: string, vm: string, name: string): Promise<SnapshotInfo> {
  await requireVm(services, host, vm);
  const found = await findFresh(
    (fresh) => services.catalog.snapshots(host, vm, { fresh }),
    (ss) => ss.find((s) => s.name === name),
  );
  if (!found) {
    throw new KvmopsError('snapshot-not-found', `VM "${vm}" on ${host} has no snapshot "${name}".`, {
      details: { host, vm, snapshot: name },
    });
  }
  return found;
}

/**
 * Refuses when any of `names` is already taken, judged on a fresh read: a cached list may
 * still hold a VM deleted seconds ago, and refusing on that would be wrong.
 */
export async function requireFree(
  read: (fresh: boolean) => Promise<Array<{ name: string }>>,
  names: string[],
  what: string,
  where: string,
): Promise<void> {
  const clash = (items: Array<{ name: string }>) => names.filter((n) => items.some((i) => i.name === n));
  if (clash(await read(false)).length === 0) return;
  const taken = clash(await read(true));
  if (taken.length > 0) {
    throw new KvmopsError('name-taken', `${what} ${taken.map((n) => `"${n}"`).join(', ')} already exist${taken.length === 1 ? 's' : ''} ${where}.`, {
      details: { taken },
    });
  }
}

// ---- enqueue and reply ----------------------------------------------------------------------

/**
 * Enqueues a job for the invoker, reporting to where they typed. A live duplicate, or a name a
 * live job is already making, becomes a refusal that names that job (the store's unique indexes
 * decide, atomically).
 */
export async function enqueueJob(ctx: HandlerContext<unknown>, kind: JobKind, payload: Record<string, unknown>): Promise<Job> {
  const { services, user, place } = ctx;
  try {
    return await services.jobs.enqueue({
      kind,
      payload,
      requester: { id: user.id, name: user.name },
      notify: { adapter: place.adapter, guildId: place.guildId, channelId: place.channelId },
      ...(KINDS_NEEDING_APPROVAL.has(kind) ? { approvalTtlMs: services.config.approvalTtlMs } : {}),
    });
  } catch (e) {
    if (isKvmopsError(e, 'duplicate-job')) {
      const id = e.details.jobId;
      throw new KvmopsError('duplicate-job', `The same job is already ${id !== undefined ? `live: job #${id}` : 'live'}. Follow it with /job status${id !== undefined ? ` id:${id}` : ''}.`, {
        cause: e,
        details: e.details,
      });
    }
    if (isKvmopsError(e, 'name-taken') && typeof e.details.jobId === 'number') {
      const names = Array.isArray(e.details.names) ? (e.details.names as string[]) : [];
      const shown = names.slice(0, 4).map((n) => `"${n}"`).join(', ') + (names.length > 4 ? ` and ${names.length - 4} more` : '');
      throw new KvmopsError('name-taken', `${shown || 'That name'} ${names.length > 1 ? 'are' : 'is'} already being made by job #${e.details.jobId}. Follow it with /job status id:${e.details.jobId}.`, {
        cause: e,
        details: e.details,
      });
    }
    throw e;
  }
}

/** Accepted: ephemeral (the notifier's status message is the channel's record of the job). */
export function acceptedReply(job: Job): Reply {
  return {
    visibility: 'ephemeral',
    title: `Job #${job.id} ${job.state}`,
    lines: [describeJob(job), 'Progress and the result will be posted in this channel.'],
    tone: 'info',
    jobId: job.id,
  };
}

/**
 * An approval request (CONTRACT.md): public, so approvers see it; the adapter adds ✅ and ❌ and
 * attaches the posted message to the approval (`approvals.attachMessage`).
 */
export async function approvalReply(ctx: HandlerContext<unknown>, job: Job): Promise<Reply> {
  const { services, user } = ctx;
  const approval = await services.approvals.get(job.id);
  const now = services.now();
  const expiresAt = approval?.expiresAt ?? now + services.config.approvalTtlMs;
  const who = services.config.twoPerson
    ? `a member with the approver role other than ${person(user)}`
    : 'a member with the approver role';
  return {
    visibility: 'public',
    title: `Approval needed for job #${job.id}: ${describeJob(job)}`,
    lines: [
      `Requested by ${person(user)}.`,
      `${who[0]!.toUpperCase()}${who.slice(1)} reacts ✅ to approve or ❌ to reject.`,
      `Expires at ${formatTime(expiresAt)} (in ${formatDuration(Math.max(0, expiresAt - now))}).`,
    ],
    tone: 'warning',
    approvalJobId: job.id,
    jobId: job.id,
  };
}

/** Enqueue, then the reply that fits the kind. */
export async function enqueueAndReply(ctx: HandlerContext<unknown>, kind: JobKind, payload: Record<string, unknown>): Promise<Reply> {
  const job = await enqueueJob(ctx, kind, payload);
  return job.state === 'awaiting_approval' ? approvalReply(ctx, job) : acceptedReply(job);
}

/** A read's reply: ephemeral, only the invoker sees it. */
export function readReply(title: string, lines: string[]): Reply {
  return { visibility: 'ephemeral', title, lines, tone: 'info' };
}

/** `z.boolean().default(x)` with the contract's default, spelled once. */
export const flag = (dflt: boolean) => z.boolean().default(dflt);

/**
 * A failed zod parse as the user's `invalid-input` refusal, listing every issue as an
 * "option: message" line; `label` ("snapshot create") names the command when known.
 */
export function invalidOptions(error: z.ZodError, label?: string): KvmopsError {
  const issues = error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'options'}: ${i.message}`);
  return new KvmopsError('invalid-input', `Invalid options${label ? ` for /${label}` : ''}:\n${issues.join('\n')}`, {
    cause: error,
    details: { issues },
  });
}

/**
 * The job payload, checked by its kind's schema here too, so a rule that spans options (deploy:
 * at most 60 characters with count > 1) is refused before a job exists, as `invalid-input`.
 */
export function parsePayload<S extends z.ZodTypeAny>(schema: S, data: unknown): z.output<S> {
  const r = schema.safeParse(data);
  if (!r.success) throw invalidOptions(r.error);
  return r.data;
}
