import { cutUtf8, utf8Length } from '../domain/text.js';
import { describeJob, resultSummary } from '../kinds/index.js';
import type { Job, JobSnapshot } from './types.js';

/**
 * What an outbox event keeps of its job (JobSnapshot): written with every change, so it is kept
 * small — an event row stays under 0.5 KB (test/jobs/event-size.test.ts) where a copy of the job
 * took ~3.4 KB. The notification is drawn from it alone.
 *
 * Free text is cut in UTF-8 bytes, the unit a row costs: the title to TITLE_BYTES, the
 * requester's name to NAME_BYTES, and the one detail the state shows (result summary, error
 * message or progress step) to what is left of TEXT_BUDGET — a deploy ×20 shows the head of its
 * VM list, `/job status` the whole result. Ids, kinds, states and error codes are not cut: they
 * are short by construction (chat ids, our own words).
 */
export const TITLE_BYTES = 120;
export const NAME_BYTES = 128;
export const TEXT_BUDGET = 320;

export function snapshotOf(job: Job): JobSnapshot {
  const title = cutUtf8(describeJob(job), TITLE_BYTES);
  const name = cutUtf8(job.requester.name, NAME_BYTES);
  const detailBytes = TEXT_BUDGET - utf8Length(title) - utf8Length(name);
  const shows = {
    progress: job.state === 'running',
    result: job.state === 'succeeded',
    error: job.state === 'failed' || job.state === 'cancelled' || job.state === 'queued',
  };
  const result = shows.result ? resultSummary(job) : undefined;
  return {
    id: job.id,
    requestId: job.requestId,
    kind: job.kind,
    state: job.state,
    title,
    requester: { id: job.requester.id, name },
    notify: { adapter: job.notify.adapter, guildId: job.notify.guildId, channelId: job.notify.channelId },
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    recovered: job.recovered,
    cancelRequested: job.cancelRequested,
    runAt: job.runAt,
    updatedAt: job.updatedAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    progress:
      shows.progress && job.progress
        ? { step: cutUtf8(job.progress.step, detailBytes), ...(Number.isFinite(job.progress.fraction) ? { fraction: job.progress.fraction } : {}) }
        : null,
    result: result === undefined ? null : cutUtf8(result, detailBytes),
    error: shows.error && job.error ? { code: job.error.code, message: cutUtf8(job.error.message, detailBytes) } : null,
  };
}
