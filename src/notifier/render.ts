import { formatDuration } from '../domain/duration.js';
import { cut } from '../domain/text.js';
import type { JobSnapshot } from '../jobs/types.js';
import type { StatusView } from './types.js';

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
