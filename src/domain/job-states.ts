/**
 * The states of a job: `awaiting_approval → queued → running → succeeded | failed | cancelled`
 * (a failed attempt with attempts left goes back to `queued`). What a job *is* — its kind —
 * lives in src/kinds/.
 */
export const JOB_STATES = ['awaiting_approval', 'queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINAL_STATES: ReadonlySet<JobState> = new Set<JobState>(['succeeded', 'failed', 'cancelled']);
