import { formatDuration } from '../domain/duration.js';
import { cut } from '../domain/text.js';
import type { Job, JobSnapshot } from '../jobs/types.js';
import { snapshotOf } from '../jobs/snapshot.js';
import { describeJob, resultSummary } from '../kinds/index.js';
import type { EndedJob, StatusView } from './types.js';

/**
 * The event's job snapshot → StatusView mapping: pure (the clock is a parameter), so every
 * adapter shows the same words and tests can pin them. The snapshot already holds the job's
 * title and result summary (src/jobs/snapshot.ts), drawn from the payload and result when the
 * event was written.
 */

/** A job state in words, the same in every adapter. */
export const STATE_WORDS: Record<JobSnapshot['state'], string> = {
  awaiting_approval: 'awaiting approval',
  queued: 'queued',
  running: 'running',
  succeeded: 'succeeded',
  failed: 'failed',
  cancelled: 'cancelled',
};

function progressText(p: { step: string; fraction?: number }): string {
  return p.fraction === undefined ? p.step : `${p.step} ${Math.round(Math.min(1, Math.max(0, p.fraction)) * 100)}%`;
}

export function statusView(job: JobSnapshot, now: number): StatusView {
  const view: StatusView = {
    jobId: job.id,
    requestId: job.requestId,
    kind: job.kind,
    state: job.state,
    title: job.title,
    lines: [],
    requester: job.requester,
    updatedAt: job.updatedAt,
  };
  const lines = [`Job #${job.id} · ${STATE_WORDS[job.state] ?? job.state}`, `Requested by ${job.requester.name}`];

  if (job.startedAt !== null) {
    view.durationMs = Math.max(0, (job.finishedAt ?? now) - job.startedAt);
  }
  if (job.state === 'running' || job.state === 'queued') {
    if (job.attempts > 1 || (job.state === 'queued' && job.attempts > 0)) {
      lines.push(`Attempt ${job.state === 'queued' ? job.attempts + 1 : job.attempts} of ${job.maxAttempts}`);
    }
    if (job.recovered && job.state === 'running') lines.push('Recovered after an interruption');
    if (job.state === 'queued' && job.runAt > now) lines.push(`Retrying in ${formatDuration(job.runAt - now)}`);
  }
  if (job.state === 'running' && job.progress) {
    view.progress = job.progress;
    lines.push(`Progress: ${progressText(job.progress)}`);
  }
  if (job.state === 'running' && job.cancelRequested) lines.push('Stop requested');
  if (view.durationMs !== undefined) lines.push(`Duration: ${formatDuration(view.durationMs)}`);
  if (job.state === 'succeeded' && job.result !== null) {
    view.result = job.result;
    lines.push(`Result: ${job.result}`);
  }
  // A retrying job keeps its last error: show it while queued too ("why is it waiting?").
  if (job.error && (job.state === 'failed' || job.state === 'cancelled' || job.state === 'queued')) {
    view.error = { code: job.error.code, message: cut(job.error.message, 1000) };
    lines.push(`${job.state === 'queued' ? 'Last error' : 'Error'}: ${job.error.code} — ${view.error.message}`);
  }
  view.lines = lines;
  return view;
}

/** `▰▰▰▱▱▱▱▱▱▱` over `done` of `total`: a batch's progress bar, the same text in every adapter. */
export function progressBarText(done: number, total: number, width = 10): string {
  const full = total > 0 ? Math.round((Math.min(done, total) / total) * width) : 0;
  return `${'▰'.repeat(full)}${'▱'.repeat(width - full)}`;
}

/**
 * The state a batch's one status message shows: live while any job is; once all ended, failed if
 * any failed, cancelled if any was cancelled, else succeeded.
 */
export function batchState(jobs: ReadonlyArray<Pick<Job, 'state'>>): Job['state'] {
  const has = (s: Job['state']) => jobs.some((j) => j.state === s);
  for (const live of ['running', 'queued', 'awaiting_approval'] as const) if (has(live)) return live;
  if (has('failed')) return 'failed';
  if (has('cancelled')) return 'cancelled';
  return 'succeeded';
}

/**
 * ONE status message for a batch (a VM pattern's jobs, lead first), drawn from the job rows: a
 * progress bar over the batch and a line per VM — its job, its state, and for a failed or
 * cancelled one why. Keyed by the lead (its id and request id), like the message itself.
 */
export function batchView(jobs: Job[], now: number): StatusView {
  const lead = jobs[0]!;
  // A VM pattern's batch is one kind over VMs: a line per VM names the VM. Other batches mix
  // (a schedule's run: its snapshots, then its retention's deletes) or act on no one VM (a
  // placed deploy: a job per host): each line then says what its job does.
  const perVm = jobs.every((j) => j.kind === lead.kind && typeof j.payload.vm === 'string');
  const label = (j: Job) => (perVm ? String(j.payload.vm) : cut(describeJob(j), 100));
  const more = jobs.length - 1;
  const ended = jobs.filter((j) => j.finishedAt !== null).length;
  const started = jobs.map((j) => j.startedAt).filter((t): t is number => t !== null);
  const state = batchState(jobs);
  const finished = ended === jobs.length;
  const view: StatusView = {
    jobId: lead.id,
    requestId: lead.requestId,
    kind: lead.kind,
    state,
    title: cut(`Batch #${lead.id}: ${describeJob(lead)}${more > 0 ? ` and ${more} more ${perVm ? 'VM' : 'job'}${more > 1 ? 's' : ''}` : ''}`, 250),
    lines: [],
    requester: lead.requester,
    updatedAt: Math.max(...jobs.map((j) => j.updatedAt)),
    batch: { size: jobs.length, ended },
  };
  if (started.length) view.durationMs = Math.max(0, (finished ? Math.max(...jobs.map((j) => j.finishedAt ?? 0)) : now) - Math.min(...started));
  const count = (s: Job['state']) => jobs.filter((j) => j.state === s).length;
  const tally = (['succeeded', 'failed', 'cancelled', 'running', 'queued', 'awaiting_approval'] as const)
    .filter((s) => count(s) > 0)
    .map((s) => `${count(s)} ${STATE_WORDS[s]}`)
    .join(', ');
  const lines = [
    `Batch #${lead.id} · ${jobs.length} jobs · ${STATE_WORDS[state]}`,
    `Requested by ${lead.requester.name}`,
    `${progressBarText(ended, jobs.length)} ${ended} of ${jobs.length} ended — ${tally}`,
  ];
  for (const j of jobs) {
    const p = j.state === 'running' && j.progress ? ` (${progressText(j.progress)})` : '';
    const why = j.error && (j.state === 'failed' || j.state === 'cancelled') ? ` — ${j.error.code}: ${cut(j.error.message, 120)}` : '';
    lines.push(`#${j.id} ${label(j)}: ${STATE_WORDS[j.state]}${p}${why}`);
  }
  if (view.durationMs !== undefined) lines.push(`Duration: ${formatDuration(view.durationMs)}`);
  const failed = jobs.filter((j) => j.state === 'failed');
  if (finished && failed.length) view.error = { code: failed[0]!.error?.code ?? 'internal', message: `${failed.length} of ${jobs.length} failed: ${failed.map((j) => (perVm ? label(j) : `#${j.id}`)).join(', ')}` };
  if (finished && !failed.length && state === 'succeeded') view.result = `${jobs.length} of ${jobs.length} succeeded`;
  view.lines = lines;
  return view;
}

/** A summary message's lines stay well inside one embed description (Discord: 4096). */
export const SUMMARY_TEXT_BUDGET = 3_500;

/** A job's line in a channel summary; the notifier compares it to tell whether an edit is due. */
export function summaryLine(j: Job): string {
  const p = j.state === 'running' && j.progress ? ` (${progressText(j.progress)})` : '';
  const took = j.finishedAt !== null && j.startedAt !== null ? ` in ${formatDuration(Math.max(0, j.finishedAt - j.startedAt))}` : '';
  const summary = j.state === 'succeeded' ? resultSummary(j) : undefined;
  const result = summary ? ` — ${cut(summary, 80)}` : '';
  const why = j.error && (j.state === 'failed' || j.state === 'cancelled') ? ` — ${j.error.code}: ${cut(j.error.message, 80)}` : '';
  return `#${j.id} ${cut(describeJob(j), 80)}: ${STATE_WORDS[j.state]}${p}${took}${result}${why}`;
}

/**
 * ONE status message for the jobs of a crowded channel (src/notifier/crowd.ts), drawn from the
 * job rows: a tally, then a line per job — live ones first (running, awaiting approval, queued),
 * then ended ones with duration and result or error. Running jobs show no clock, so the text
 * changes only when a job does (an edit that would show the same is skipped). When the lines
 * would not fit one message, ended and queued jobs are listed by id under their state instead,
 * so every job's state stays visible; `/job status ID` shows one in full.
 */
export function channelSummaryView(jobs: Job[]): StatusView {
  const first = jobs[0]!;
  const count = (s: Job['state']) => jobs.filter((j) => j.state === s).length;
  const ended = jobs.filter((j) => j.finishedAt !== null).length;
  const state = batchState(jobs);
  const tally = (['running', 'awaiting_approval', 'queued', 'succeeded', 'failed', 'cancelled'] as const)
    .filter((s) => count(s) > 0)
    .map((s) => `${count(s)} ${STATE_WORDS[s]}`)
    .join(', ');
  const order: Job['state'][] = ['running', 'awaiting_approval', 'queued', 'failed', 'cancelled', 'succeeded'];
  const sorted = [...jobs].sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state) || a.id - b.id);
  const head = [`${jobs.length} jobs in this channel's summary: ${tally}`, 'Each job has its line here instead of its own message; /job status ID shows one in full.'];
  let body = sorted.map(summaryLine);
  if (body.join('\n').length > SUMMARY_TEXT_BUDGET) {
    // Compact: running jobs keep their line (few: the host's concurrency), the rest by state.
    const running = sorted.filter((j) => j.state === 'running').slice(0, 10);
    body = running.map(summaryLine);
    for (const s of order) {
      const ids = sorted.filter((j) => j.state === s && !running.includes(j));
      if (ids.length === 0) continue;
      const withCode = (j: Job) => (j.error && (s === 'failed' || s === 'cancelled') ? `#${j.id} (${j.error.code})` : `#${j.id}`);
      body.push(`${s === 'running' ? 'also running' : STATE_WORDS[s]}: ${ids.map(withCode).join(' ')}`);
    }
  }
  const view: StatusView = {
    jobId: first.id,
    requestId: first.requestId,
    kind: first.kind,
    state,
    title: `Channel summary: ${tally}`,
    lines: [...head, ...body],
    requester: first.requester,
    updatedAt: Math.max(...jobs.map((j) => j.updatedAt)),
    summary: { jobIds: jobs.map((j) => j.id), ended },
  };
  return view;
}

/**
 * The view for ONE completion mention naming several ended jobs of one requester (a crowded
 * channel groups them): each job with its state, duration and result or error. The state is the
 * group's as for a batch (failed if any failed).
 */
export function groupEndView(jobs: Job[], now: number): StatusView {
  const first = jobs[0]!;
  const group: EndedJob[] = jobs.map((j) => {
    const v = statusView(snapshotOf(j), now);
    return {
      jobId: j.id,
      state: j.state,
      title: describeJob(j),
      ...(v.durationMs !== undefined ? { durationMs: v.durationMs } : {}),
      ...(v.result !== undefined ? { result: v.result } : {}),
      ...(v.error !== undefined ? { error: v.error } : {}),
    };
  });
  return {
    jobId: first.id,
    requestId: first.requestId,
    kind: first.kind,
    state: batchState(jobs),
    title: `${jobs.length} job${jobs.length === 1 ? '' : 's'}`,
    lines: group.map((e) => `#${e.jobId} ${e.title}: ${STATE_WORDS[e.state]}`),
    requester: first.requester,
    updatedAt: Math.max(...jobs.map((j) => j.updatedAt)),
    group,
  };
}
