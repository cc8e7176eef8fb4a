import { KvmopsError, isKvmopsError } from '../domain/errors.js';
import { KINDS_NEEDING_APPROVAL, pinnedLines, type JobKind, type JobPayload } from '../kinds/index.js';
import { MAX_NAME_LENGTH, hostNameSchema, nameSchema, vmNameSchema } from '../domain/names.js';
import type { TemplateInfo, VmSummary } from '../hypervisor/types.js';
import type { KnownSnapshot } from './catalog.js';
import type { EnqueueRequest, Job } from '../jobs/types.js';
import { subcommand, type HandlerContext } from './command.js';
import { describeJob, formatDuration } from './format.js';
import { moment, person } from './people.js';
import type { Services } from './services.js';
import { invalidOptions, options, text, type Option } from './options.js';
import type { Reply, ReplyPage } from './types.js';

/**
 * What several command modules share: the options that must be identical everywhere
 * (docs/commands.md: `host` optional everywhere, names 1–63 safe characters), the cheap existence
 * checks made before a job exists, and the enqueue-and-reply step.
 */

// ---- options ------------------------------------------------------------------------------

/** The name of something that exists on the host, completed from it (`vm`, `template`). */
export function nameOf(source: 'vm' | 'template', description: string): Option<typeof nameSchema> {
  return text(description, source === 'vm' ? vmNameSchema : nameSchema, { maxLength: MAX_NAME_LENGTH, autocomplete: source });
}

export const vmOption = (description = 'VM name') => nameOf('vm', description);

/**
 * The `name` option: a new name, or with `source` an existing one completed from the host. It
 * alone shows Discord a min_length of 1, as it always has (the registered JSON is the contract).
 */
export function nameOption(description: string, source?: 'template' | 'snapshot'): Option<typeof nameSchema> {
  return text(description, nameSchema, { minLength: 1, maxLength: MAX_NAME_LENGTH, ...(source ? { autocomplete: source } : {}) });
}

/** The name of a new VM (/deploy `name`): a name, and not one kvmops hides (names.ts `vmNameProblem`). */
export function newVmNameOption(description: string): Option<typeof nameSchema> {
  return text(description, vmNameSchema, { minLength: 1, maxLength: MAX_NAME_LENGTH });
}

/** docs/commands.md: `host` is optional everywhere; the default is the first configured host. */
export const hostOption = text('Host (default: the first configured host)', hostNameSchema, { maxLength: MAX_NAME_LENGTH, autocomplete: 'host' }).optional();

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
 * Looks `pick` up in what is known (the inventory, or a cached list); on a miss reads again —
 * fresh — before giving up. A hit is trusted (the executor checks again); a refusal never rests
 * on a stale answer.
 */
async function findFresh<T, R>(
  read: (fresh: boolean) => Promise<T[]>,
  pick: (items: T[]) => R | undefined,
): Promise<R | undefined> {
  const cached = pick(await read(false));
  if (cached !== undefined) return cached;
  return pick(await read(true));
}

/**
 * A refusal's message while the host's first import runs: it is not "there is none" but "not
 * known yet" — the answer says how far the import is (details.importing), not as if complete.
 */
function notFound(services: Services, host: string, message: string): { message: string; importing?: string } {
  const note = services.catalog.importing(host);
  return note ? { message: `${message}\n${note}: it may not be known yet; try again when the import is done.`, importing: note } : { message };
}

export async function requireVm(services: Services, host: string, vm: string): Promise<VmSummary> {
  const found = await findFresh(
    (fresh) => services.catalog.vm(host, vm, { fresh }).then((v) => (v ? [v] : [])),
    (vms) => vms[0],
  );
  if (!found) {
    const { message, importing } = notFound(services, host, `There is no VM "${vm}" on ${host}.`);
    throw new KvmopsError('vm-not-found', message, { details: { host, vm, ...(importing ? { importing } : {}) } });
  }
  return found;
}

export async function requireTemplate(services: Services, host: string, name: string): Promise<TemplateInfo> {
  const found = await findFresh(
    (fresh) => services.catalog.templates(host, { fresh }),
    (ts) => ts.find((t) => t.name === name),
  );
  if (!found) {
    const { message, importing } = notFound(services, host, `There is no template "${name}" on ${host}.`);
    throw new KvmopsError('template-not-found', message, { details: { host, template: name, ...(importing ? { importing } : {}) } });
  }
  return found;
}

/** Known first (the inventory); a miss reads that VM's snapshots on the host — O(that VM), never the host's. */
export async function requireSnapshot(services: Services, host: string, vm: string, name: string): Promise<KnownSnapshot> {
  await requireVm(services, host, vm);
  const found = await findFresh<KnownSnapshot, KnownSnapshot>(
    (fresh) => (fresh ? services.catalog.snapshots(host, vm, { fresh }) : services.catalog.knownSnapshots(host, vm)),
    (ss) => ss.find((s) => s.name === name),
  );
  if (!found) {
    throw new KvmopsError('snapshot-not-found', `VM "${vm}" on ${host} has no snapshot "${name}".`, {
      details: { host, vm, snapshot: name },
    });
  }
  return found;
}

// ---- pinned identities ----------------------------------------------------------------------

/**
 * The identity a job stores when it is requested (docs/commands.md "Approvals"): the VM's uuid,
 * the snapshot's creation time and base files, the template's creation time. The executor acts
 * on that object only (`target-changed` / `target-gone` otherwise). Read from the catalog, like
 * the existence checks (no host read on the reply's path): a pin from a list a few seconds old
 * can only name an object that was there then — if it was replaced since, the job fails cleanly
 * (or a delete finds it gone) and never touches the newcomer.
 */
export async function pinVm(services: Services, host: string, vm: string): Promise<{ vmUuid: string }> {
  return { vmUuid: (await requireVm(services, host, vm)).uuid };
}

export async function pinSnapshot(
  services: Services,
  host: string,
  vm: string,
  name: string,
): Promise<{ vmUuid: string; snapshot: { createdAt: number; files: string[] } }> {
  const { vmUuid } = await pinVm(services, host, vm);
  const s = await requireSnapshot(services, host, vm, name);
  return { vmUuid, snapshot: { createdAt: s.createdAt, files: s.files } };
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
 * Payload fields that are pinned at request time, not options: identities the check finds on
 * the host, and the requester's SSH keys a deploy captures (so an approval or a restored backup
 * acts on what was asked).
 */
type PinKey = 'vmUuid' | 'snapshot' | 'createdAt' | 'templateCreatedAt' | 'sshKeys';
type Pins<K extends JobKind> = Pick<JobPayload<K>, PinKey & keyof JobPayload<K>>;

/** A job-making subcommand's options: its payload's fields but the pins, with `host` optional (docs/commands.md). */
export type JobOptions<K extends JobKind> = Omit<JobPayload<K>, 'host' | PinKey> & { host?: string | undefined };

/**
 * The handler of a subcommand that makes a `kind` job: its payload is the options on their
 * resolved host plus what `check` pinned; `check` refuses what is wrong on the host (cheap
 * existence checks, from the catalog) before the job exists, and returns the identities the job
 * pins (pinVm, pinSnapshot …). The options are typed as the payload's fields, so a subcommand
 * whose options do not give its payload does not compile; the store's schema refuses a payload
 * that lacks a pin its kind requires.
 */
export function enqueues<K extends JobKind>(
  kind: K,
  check: (services: Services, options: JobOptions<K> & { host: string }, user: HandlerContext<JobOptions<K>>['user']) => Promise<Pins<K>>,
) {
  return async (ctx: HandlerContext<JobOptions<K>>): Promise<Reply> => {
    const options = { ...ctx.options, host: resolveHost(ctx.services, ctx.options.host) };
    const pins = await check(ctx.services, options, ctx.user);
    // The spread is the payload: for a generic K the compiler cannot see it, the signature says it.
    return enqueueAndReply(ctx, kind, { ...options, ...pins } as unknown as JobPayload<K>);
  };
}

/**
 * Enqueues a job for the invoker, reporting to where they typed. A live duplicate, or a name a
 * live job is already making, becomes a refusal that names that job (the store's unique indexes
 * decide, atomically). The store checks the payload by its kind's schema (it is the edge for
 * every caller); what that refuses is the user's input, shown like any invalid option: the
 * options were parsed already, so this is only a rule across options (a deploy's name with
 * count > 1).
 */
export async function enqueueJob<K extends JobKind>(ctx: HandlerContext<unknown>, kind: K, payload: JobPayload<K>): Promise<Job> {
  try {
    return await ctx.services.jobs.enqueue(enqueueRequest(ctx, kind, payload));
  } catch (e) {
    throw enqueueRefusal(e);
  }
}

/** The store's request for a `kind` job of the invoker, reporting to where they typed. */
export function enqueueRequest<K extends JobKind>(ctx: HandlerContext<unknown>, kind: K, payload: JobPayload<K>): EnqueueRequest {
  const { services, user, place } = ctx;
  return {
    kind,
    payload,
    requester: { id: user.id, name: user.name },
    notify: { adapter: place.adapter, guildId: place.guildId, channelId: place.channelId },
    ...(KINDS_NEEDING_APPROVAL.has(kind) ? { approvalTtlMs: services.config.approvalTtlMs } : {}),
  };
}

/** A store refusal as the invoker reads it (enqueueJob's rules; a batch's are the same). */
export function enqueueRefusal(e: unknown): unknown {
  if (isKvmopsError(e, 'invalid-input') && Array.isArray(e.details.issues)) return invalidOptions(e.details.issues as string[], e);
  if (isKvmopsError(e, 'duplicate-job')) {
    const id = e.details.jobId;
    return new KvmopsError('duplicate-job', `The same job is already ${id !== undefined ? `live: job #${id}` : 'live'}. Follow it with /job status${id !== undefined ? ` id:${id}` : ''}.`, {
      cause: e,
      details: e.details,
    });
  }
  if (isKvmopsError(e, 'name-taken') && typeof e.details.jobId === 'number') {
    const names = Array.isArray(e.details.names) ? (e.details.names as string[]) : [];
    const shown = names.slice(0, 4).map((n) => `"${n}"`).join(', ') + (names.length > 4 ? ` and ${names.length - 4} more` : '');
    return new KvmopsError('name-taken', `${shown || 'That name'} ${names.length > 1 ? 'are' : 'is'} already being made by job #${e.details.jobId}. Follow it with /job status id:${e.details.jobId}.`, {
      cause: e,
      details: e.details,
    });
  }
  return e;
}

/** Accepted: ephemeral (the notifier's status message is the channel's record of the job). */
export function acceptedReply(job: Job): Reply {
  return {
    visibility: 'ephemeral',
    title: `Job #${job.id} ${job.state}`,
    lines: [describeJob(job), 'Progress and the result will be posted in this channel.'],
    tone: 'info',
    jobId: job.id,
    requestId: job.requestId,
  };
}

/**
 * An approval request (docs/commands.md): public, so approvers see it; the adapter adds ✅ and ❌ and
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
      ...pinnedText(job),
      `Requested by ${person(user)}.`,
      `${who[0]!.toUpperCase()}${who.slice(1)} reacts ✅ to approve or ❌ to reject.`,
      `Expires at ${moment(expiresAt)} (in ${formatDuration(Math.max(0, expiresAt - now))}).`,
    ],
    tone: 'warning',
    approvalJobId: job.id,
    jobId: job.id,
    requestId: job.requestId,
  };
}

/** "Pinned: VM web (uuid 3f2a1b9c); snapshot known-good (taken …) — …": what the approver approves. */
function pinnedText(job: Job): string[] {
  const pins = pinnedLines(job);
  return pins.length ? [`Pinned: ${pins.join('; ')}. The job acts on exactly ${pins.length > 1 ? 'these' : 'this'}: a new one under the same name is never touched.`] : [];
}

/** Enqueue, then the reply that fits the kind. */
export async function enqueueAndReply<K extends JobKind>(ctx: HandlerContext<unknown>, kind: K, payload: JobPayload<K>): Promise<Reply> {
  const job = await enqueueJob(ctx, kind, payload);
  return job.state === 'awaiting_approval' ? approvalReply(ctx, job) : acceptedReply(job);
}

/** A read's reply: ephemeral, only the invoker sees it. */
export function readReply(title: string, lines: string[]): Reply {
  return { visibility: 'ephemeral', title, lines, tone: 'info' };
}

/**
 * `list` of what one host holds (VMs, templates), for viewers, as `read` gives it: the
 * inventory as it stands for templates (kvmops' own work is in it at once; a change made
 * behind its back within one reconcile), a fresh host read for VMs.
 */
export function listOnHost<T>(spec: {
  description: string;
  /** "VMs": the reply's title is "VMs on <host>". */
  what: string;
  read: (services: Services, host: string) => Promise<T[]>;
  /** The page of the items from `offset` (the reply's Previous / Next run the list again from another). */
  page: (items: T[], offset: number) => { lines: string[]; page: ReplyPage };
  /** The read is the inventory's: while the first import runs, the reply says how far it is. */
  fromInventory?: boolean;
}) {
  return subcommand({
    name: 'list',
    description: spec.description,
    role: 'viewer',
    mutates: false,
    defer: true,
    options: options({ host: hostOption }),
    async handle({ options: o, services, offset }) {
      const host = resolveHost(services, o.host);
      const { lines, page } = spec.page(await spec.read(services, host), offset);
      const note = spec.fromInventory ? services.catalog.importing(host) : null;
      return { ...readReply(`${spec.what} on ${host}`, note ? [`${note}: the list may be incomplete.`, ...lines] : lines), page };
    },
  });
}
