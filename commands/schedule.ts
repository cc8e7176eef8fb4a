import { z } from 'zod';
import { defineCommand, subcommand } from '../src/chat/command.js';
import { hostOption, readReply, requireVm, resolveHost } from '../src/chat/command-kit.js';
import { formatDuration } from '../src/chat/format.js';
import { choice, integer, options, text } from '../src/chat/options.js';
import { moment, person } from '../src/chat/people.js';
import { autoPrefix } from '../src/chat/scheduler.js';
import type { SchedulesPort, Services } from '../src/chat/services.js';
import { DEFAULT_MAX_BATCH, vmTargetOption } from '../src/chat/vm-pattern.js';
import { isGlob } from '../src/domain/name-filter.js';
import { parseDuration } from '../src/domain/duration.js';
import { KvmopsError } from '../src/domain/errors.js';
import { snapshotCreatePayload } from '../src/kinds/snapshot-create.js';
import { MAX_KEEP, MIN_EVERY_MS, MIN_KEEP } from '../src/domain/schedule.js';
import type { Schedule } from '../src/jobs/types.js';

/**
 * /schedule — snapshots on a timer, with retention (issue 25; src/chat/scheduler.ts does the
 * runs). `create` and `delete` are the operator's and need no approval (a run only adds
 * snapshots, and deletes only its own beyond `keep`); `list` is every viewer's. Each run
 * snapshots the VMs the pattern matches *then*, as an ordinary batch named
 * `auto-<id>-<UTC yyyymmdd-hhmm>`, quiet when it succeeds.
 */

/** The longest period: a year (a longer one is a typo, and the numbers stay far from overflow). */
const MAX_EVERY_MS = 365 * 86_400_000;

/** `every`: a duration of at least a minute — `30m`, `6h`, `1d`. */
const everySchema = z.string().superRefine((s, ctx) => {
  let ms: number;
  try {
    ms = parseDuration(s);
  } catch {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'a period like 30m, 6h or 1d' });
    return;
  }
  if (ms < MIN_EVERY_MS) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `at least 1m (one minute); ${s} is shorter` });
  else if (ms > MAX_EVERY_MS) ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'at most 365d' });
});

function schedulesOf(services: Services): SchedulesPort {
  if (!services.schedules) throw new KvmopsError('internal', 'schedules are not kept here (no store)');
  return services.schedules;
}

/** One schedule as a line: what, how often, how many kept, when next, what the last run did. */
export function scheduleLine(s: Schedule): string {
  const what = [s.lastBatchId !== null ? `batch #${s.lastBatchId}` : undefined, s.lastNote ?? undefined].filter(Boolean).join(': ');
  const last = s.lastRunAt === null ? 'not run yet' : `last ${moment(s.lastRunAt)}${what ? ` (${what})` : ''}`;
  return `#${s.id} ${s.pattern} on ${s.host} · every ${formatDuration(s.everyMs)} · keep ${s.keep} · ${s.kind} · next ${moment(s.nextRunAt)} · ${last} · by ${person(s.creator)}`;
}

/** How many VMs a pattern matches now (for the reply only); none known is read again fresh, as a run would. */
async function matchingNow(services: Services, host: string, pattern: string): Promise<number> {
  const max = services.config.maxBatch ?? DEFAULT_MAX_BATCH;
  const known = await services.catalog.vmsMatching(host, pattern, max);
  return known.total > 0 ? known.total : (await services.catalog.vmsMatching(host, pattern, max, { fresh: true })).total;
}

const byId = options({ id: integer('Schedule id (the number after #, see /schedule list)', z.number().int().min(1)) });

export default defineCommand({
  name: 'schedule',
  description: 'Snapshots on a timer, keeping the newest: create, list, delete',
  subcommands: [
    subcommand({
      name: 'create',
      description: 'Snapshot a VM (or every VM matching a pattern) every period, keeping the newest',
      role: 'operator',
      mutates: true,
      // A name is checked on the host when the inventory does not know it (a fresh read).
      defer: true,
      options: options({
        vm: vmTargetOption('VM name or pattern (web-*): matched at each run'),
        every: text('How often: 30m, 6h, 1d (at least 1m)', everySchema, { maxLength: 16 }),
        keep: integer(`How many of its snapshots to keep per VM (${MIN_KEEP}–${MAX_KEEP})`, z.number().int().min(MIN_KEEP).max(MAX_KEEP)),
        kind: choice('internal (default): inside the qcow2 file; external: a new overlay', snapshotCreatePayload.shape.kind).default('internal'),
        host: hostOption,
      }),
      async handle({ options: o, services, user, place }) {
        const host = resolveHost(services, o.host);
        // A name must name a VM now (as /snapshot create's does); a pattern may match none yet.
        const now = isGlob(o.vm) ? await matchingNow(services, host, o.vm) : (await requireVm(services, host, o.vm), 1);
        const everyMs = parseDuration(o.every);
        const s = await schedulesOf(services).create({
          host,
          pattern: o.vm,
          everyMs,
          keep: o.keep,
          kind: o.kind,
          creator: { id: user.id, name: user.name },
          notify: { adapter: place.adapter, guildId: place.guildId, channelId: place.channelId },
        });
        return {
          visibility: 'public',
          title: `Schedule #${s.id} created: ${s.pattern} on ${host} every ${formatDuration(everyMs)}, keeping ${s.keep}`,
          lines: [
            `First run: ${moment(s.nextRunAt)}. Each run snapshots the VMs matching "${s.pattern}" at that moment (${now} now; ${s.kind}), named ${autoPrefix(s.id)}<UTC yyyymmdd-hhmm>.`,
            `Then it deletes its own snapshots beyond the newest ${s.keep} of each VM — never one it did not make, nor one still needed.`,
            `Each run is one status message here, edited in place; only a failure mentions ${person(user)}.`,
            ...(s.kind === 'external' ? ['External snapshots chain (each the child of the one before), and one with children is kept: retention will delete little. internal is the usual choice.'] : []),
          ],
          tone: 'success',
        };
      },
    }),
    subcommand({
      name: 'list',
      description: 'Every schedule: what, how often, how many kept, the next run',
      role: 'viewer',
      mutates: false,
      defer: false,
      options: options({}),
      async handle({ services }) {
        const all = await schedulesOf(services).list();
        return readReply(`Schedules (${all.length})`, all.length ? all.map(scheduleLine) : ['(none: make one with /schedule create)']);
      },
    }),
    subcommand({
      name: 'delete',
      description: 'Stop a schedule (its snapshots stay)',
      role: 'operator',
      mutates: true,
      defer: false,
      options: byId,
      async handle({ options: o, services }) {
        const s = await schedulesOf(services).delete(o.id);
        return {
          visibility: 'public',
          title: `Schedule #${s.id} deleted`,
          lines: [`${s.pattern} on ${s.host} is no longer snapshotted. Its snapshots (${autoPrefix(s.id)}…) stay: delete them with /snapshot delete.`],
          tone: 'success',
        };
      },
    }),
  ],
});
