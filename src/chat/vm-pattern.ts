import { KvmopsError, TRANSIENT_CODES } from '../domain/errors.js';
import { isGlob, vmTargetSchema } from '../domain/name-filter.js';
import { MAX_NAME_LENGTH } from '../domain/names.js';
import { KINDS_NEEDING_APPROVAL, pinnedLines, type JobKind, type JobPayload } from '../kinds/index.js';
import type { Job } from '../jobs/types.js';
import type { HandlerContext } from './command.js';
import { enqueueRefusal, enqueueRequest, enqueues, resolveHost, type JobOptions } from './command-kit.js';
import { formatDuration } from './format.js';
import { moment, person } from './people.js';
import { text, type Option } from './options.js';
import type { Services } from './services.js';
import type { Reply } from './types.js';

/**
 * VM patterns (docs/commands.md "Patterns"): where a command acts on VMs — `/snapshot
 * create|revert|delete`, `/vm start|stop|delete` — `vm` may be a glob over the host's VM names
 * (`web-*`, `db-0?`: `*` and `?` only). It becomes one job per matched VM, each checked and pinned
 * exactly as a single job would be, enqueued as ONE batch (all or none); a kind that needs
 * approval gets ONE request listing every VM, and its decision moves them all (src/jobs/approvals.ts).
 * A name without a wildcard is what it always was: one job.
 */

/** KVMOPS_MAX_BATCH's default: the most VMs one pattern may match. */
export const DEFAULT_MAX_BATCH = 50;

/** The `vm` of a subcommand acting on VMs: a name or a pattern; the same option as a name for Discord (the registered JSON). */
export function vmTargetOption(description: string): Option<typeof vmTargetSchema> {
  return text(description, vmTargetSchema, { maxLength: MAX_NAME_LENGTH, autocomplete: 'vm' });
}

/**
 * The VMs `pattern` matches on `host`, by name. Refused — only after a fresh read, so a refusal
 * never rests on an old answer — when none match (`vm-not-found`) or more than `maxBatch`
 * (`too-many-vms`). A positive answer may be a little old: each VM is then checked and pinned
 * on its own, and its job acts on that VM only.
 */
export async function matchVms(services: Services, host: string, pattern: string): Promise<string[]> {
  const max = services.config.maxBatch ?? DEFAULT_MAX_BATCH;
  let found = await services.catalog.vmsMatching(host, pattern, max, { fresh: false });
  if (found.total === 0 || found.total > max) found = await services.catalog.vmsMatching(host, pattern, max, { fresh: true });
  if (found.total === 0) {
    const note = services.catalog.importing(host);
    throw new KvmopsError('vm-not-found', `No VM on ${host} matches "${pattern}".${note ? `\n${note}: it may not be known yet; try again when the import is done.` : ''}`, {
      details: { host, pattern, ...(note ? { importing: note } : {}) },
    });
  }
  if (found.total > max) {
    throw new KvmopsError('too-many-vms', `"${pattern}" matches ${found.total} VMs on ${host}; one pattern may match at most ${max} (KVMOPS_MAX_BATCH). Narrow it.`, {
      details: { host, pattern, matched: found.total, max },
    });
  }
  return found.names;
}

type Check<K extends JobKind> = Parameters<typeof enqueues<K>>[1];

/**
 * The handler of a subcommand acting on VMs: a name → `enqueues(kind, check)` as before; a
 * pattern → `check` for every matched VM (all of them: a refusal names each VM that fails it,
 * e.g. every VM lacking the snapshot to revert to), then one batch.
 */
export function enqueuesOnVms<K extends JobKind>(kind: K, check: Check<K>) {
  const single = enqueues(kind, check);
  return async (ctx: HandlerContext<JobOptions<K>>): Promise<Reply> => {
    const opts = ctx.options as JobOptions<K> & { vm: string };
    if (!isGlob(opts.vm)) return single(ctx);
    const host = resolveHost(ctx.services, opts.host);
    const names = await matchVms(ctx.services, host, opts.vm);
    const payloads: Array<JobPayload<K>> = [];
    const refused: Array<{ vm: string; error: KvmopsError }> = [];
    for (const vm of names) {
      const options = { ...opts, vm, host };
      try {
        const pins = await check(ctx.services, options, ctx.user);
        payloads.push({ ...options, ...pins } as unknown as JobPayload<K>);
      } catch (e) {
        // A refusal about this VM is collected; anything about the host or kvmops itself (unreachable, busy, a bug) ends the command as it is.
        if (!(e instanceof KvmopsError) || TRANSIENT_CODES.has(e.code) || e.code === 'host-not-found' || e.code === 'internal') throw e;
        refused.push({ vm, error: e });
      }
    }
    if (refused.length > 0) {
      throw new KvmopsError(
        refused[0]!.error.code,
        [`Nothing was queued: ${refused.length} of the ${names.length} VMs matching "${opts.vm}" on ${host} cannot:`, ...refused.map((r) => `${r.vm}: ${r.error.message}`)].join('\n'),
        { details: { host, pattern: opts.vm, matched: names, refused: refused.map((r) => ({ vm: r.vm, code: r.error.code })) } },
      );
    }
    let jobs: Job[];
    try {
      jobs = await ctx.services.jobs.enqueueBatch(payloads.map((p) => enqueueRequest(ctx, kind, p)));
    } catch (e) {
      throw enqueueRefusal(e);
    }
    return KINDS_NEEDING_APPROVAL.has(kind) ? batchApprovalReply(ctx, jobs, opts.vm, host) : batchAcceptedReply(jobs, opts.vm, host);
  };
}

/** What a batch does, in the domain's words: "Revert 4 VMs matching "web-*" on local, each to its own snapshot before-patch". */
export function describeBatch(jobs: Job[], pattern: string, host: string): string {
  const lead = jobs[0]!;
  const p = lead.payload;
  const vms = `${jobs.length} VM${jobs.length === 1 ? '' : 's'} matching "${pattern}" on ${host}`;
  switch (lead.kind) {
    case 'snapshot.create':
      return `Snapshot ${vms} as ${String(p.name)} (${String(p.kind)})`;
    case 'snapshot.revert':
      return `Revert ${vms}, each to its own snapshot ${String(p.name)}`;
    case 'snapshot.delete':
      return `Delete snapshot ${String(p.name)} of ${vms}`;
    case 'vm.start':
      return `Start ${vms}`;
    case 'vm.stop':
      return `${p.force === true ? 'Force-stop' : 'Stop'} ${vms}`;
    case 'vm.delete':
      return `Delete ${vms}`;
    default:
      return `${lead.kind} on ${vms}`;
  }
}

/** Accepted: ephemeral, like a single job's; it names every VM that matched and its job. */
function batchAcceptedReply(jobs: Job[], pattern: string, host: string): Reply {
  const lead = jobs[0]!;
  return {
    visibility: 'ephemeral',
    title: `Batch #${lead.id} ${lead.state}: ${describeBatch(jobs, pattern, host)}`,
    lines: [
      ...jobs.map((j) => `#${j.id} ${String(j.payload.vm)}`),
      'Progress and the results will be posted in this channel; a VM that fails does not stop the others.',
    ],
    tone: 'info',
    jobId: lead.id,
    requestId: lead.requestId,
  };
}

/**
 * ONE approval request for the batch (docs/commands.md): every VM with what its job pinned; the
 * adapter ties the message to the lead's approval, and a decision on it moves every job.
 */
async function batchApprovalReply(ctx: HandlerContext<unknown>, jobs: Job[], pattern: string, host: string): Promise<Reply> {
  const { services, user } = ctx;
  const lead = jobs[0]!;
  const approval = await services.approvals.get(lead.id);
  const now = services.now();
  const expiresAt = approval?.expiresAt ?? now + services.config.approvalTtlMs;
  const who = services.config.twoPerson ? `A member with the approver role other than ${person(user)}` : 'A member with the approver role';
  return {
    visibility: 'public',
    title: `Approval needed for batch #${lead.id}: ${describeBatch(jobs, pattern, host)}`,
    lines: [
      // A short line per VM (50 fit in one Discord embed): its job and what the job pinned.
      ...jobs.map((j) => `#${j.id} ${pinnedLines(j).join('; ') || String(j.payload.vm)}`),
      'Each job acts on exactly what it pinned: a new one under the same name is never touched.',
      `Requested by ${person(user)}.`,
      `${who} reacts ✅ to approve all ${jobs.length} or ❌ to reject all ${jobs.length}.`,
      `Expires at ${moment(expiresAt)} (in ${formatDuration(Math.max(0, expiresAt - now))}).`,
    ],
    tone: 'warning',
    approvalJobId: lead.id,
    jobId: lead.id,
    requestId: lead.requestId,
  };
}
