import { z } from 'zod';
import { KvmopsError } from '../src/domain/errors.js';
import { JOB_STATES } from '../src/domain/job-states.js';
import { defineCommand, subcommand } from '../src/chat/command.js';
import { readReply } from '../src/chat/command-kit.js';
import { boolean, choice, integer, options } from '../src/chat/options.js';
import { hasRole } from '../src/chat/roles.js';
import { batchLines, count, jobDetail, jobLine, showingLine } from '../src/chat/format.js';
import { person } from '../src/chat/people.js';
import type { Services } from '../src/chat/services.js';
import type { Job } from '../src/jobs/types.js';

/**
 * /job — the job history every teammate sees. Reads the SQLite store only (no host reads), so
 * nothing here needs a deferred acknowledgement.
 */

/** How many jobs /job list shows, newest first (a chat message is not a report). */
export const JOB_LIST_LIMIT = 20;

async function requireJob(services: Services, jobId: number): Promise<Job> {
  const job = await services.jobs.get(jobId);
  if (!job) throw new KvmopsError('job-not-found', `There is no job #${jobId}.`, { details: { jobId } });
  return job;
}

/** The option of a subcommand on one job. */
const byId = options({ id: integer('Job id (the number after #)', z.number().int().min(1)) });

export default defineCommand({
  name: 'job',
  description: 'Jobs: status, list, cancel',
  subcommands: [
    subcommand({
      name: 'status',
      description: "A job's state, progress, times and result",
      role: 'viewer',
      mutates: false,
      defer: false,
      options: byId,
      async handle({ options: o, services }) {
        const job = await requireJob(services, o.id);
        const tone = job.state === 'failed' ? 'error' : job.state === 'succeeded' ? 'success' : 'info';
        // A job of a batch (a VM pattern) shows its batch too: which VMs failed, and why.
        const batch = job.batchId !== null ? batchLines(await services.jobs.batch(job.batchId)) : [];
        return { ...readReply(`Job #${job.id} ${job.state}`, [...jobDetail(job, services.now()), ...batch]), tone };
      },
    }),
    subcommand({
      name: 'list',
      description: 'Recent jobs, newest first, 20 a page',
      role: 'viewer',
      mutates: false,
      defer: false,
      options: options({
        state: choice('Only jobs in this state', z.enum(JOB_STATES)).optional(),
        mine: boolean('Only jobs I requested (default false)').default(false),
      }),
      async handle({ options: o, services, user, offset }) {
        const filter = { ...(o.state ? { state: o.state } : {}), ...(o.mine ? { requesterId: user.id } : {}) };
        // Offsets, not "older than #id": a page button carries its whole invocation, and a
        // job queued between two clicks shifts the next page by one line at most.
        const [jobs, { total, capped }] = await Promise.all([services.jobs.list({ ...filter, limit: JOB_LIST_LIMIT, offset }), services.jobs.count(filter)]);
        const now = services.now();
        const newest = [...jobs].sort((a, b) => b.id - a.id).slice(0, JOB_LIST_LIMIT);
        const what = [o.state, o.mine ? 'mine' : undefined].filter(Boolean).join(', ');
        const empty = total === 0 || offset === 0 ? '(no jobs)' : `(no jobs past ${count(total)}: the list is shorter now)`;
        const showing = showingLine({ offset, total, capped }, newest.length);
        const lines = newest.length ? [...newest.map((j) => jobLine(j, now)), ...(showing ? [showing] : [])] : [empty];
        return { ...readReply(`Jobs${what ? ` (${what})` : ''}`, lines), page: { offset, limit: JOB_LIST_LIMIT, total, ...(capped ? { capped } : {}) } };
      },
    }),
    subcommand({
      name: 'cancel',
      description: 'Cancel a job (queued or awaiting approval), or ask a running one to stop',
      // Anyone who can see jobs may try; the handler lets only the requester or an admin through.
      role: 'viewer',
      mutates: true,
      defer: false,
      options: byId,
      async handle(ctx) {
        const { options: o, services, user } = ctx;
        ctx.auditJob(o.id);
        const job = await requireJob(services, o.id);
        if (job.requester.id !== user.id && !hasRole(user, 'admin')) {
          throw new KvmopsError('forbidden', `Only ${person(job.requester)} (who requested job #${job.id}) or an admin may cancel it.`, {
            details: { jobId: job.id },
          });
        }
        const { job: after, effect } = await services.jobs.requestCancel(job.id, { id: user.id, name: user.name });
        return effect === 'cancelled'
          ? { visibility: 'ephemeral', title: `Job #${after.id} cancelled`, lines: [], tone: 'success' }
          : {
              visibility: 'ephemeral',
              title: `Job #${after.id} asked to stop`,
              lines: ['It is running; the worker stops it at the next safe point and reports here.'],
              tone: 'warning',
            };
      },
    }),
  ],
});
