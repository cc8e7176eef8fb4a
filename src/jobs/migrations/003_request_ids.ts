/**
 * Request ids: a random id made when the job is enqueued, stored with it, the same on every
 * attempt, and never repeated — not after a restore of a backup (whose autoincrement ids are
 * handed out again) and not across two databases on one host (`npm run shell` beside the bot).
 * Every record kvmops leaves on a host for a job (a revert's "applied" entry, a deployed VM's
 * request) and every Discord nonce of a job's messages carries it.
 *
 * Jobs written before this migration get `job-<id>`: the id their attempts have already used on
 * the host, so a live job that is recovered after the upgrade still finds its own records.
 * The column is NOT NULL with an empty default only because SQLite cannot add a NOT NULL column
 * without one; the unique index makes a second empty id fail loudly, and enqueue always sets it.
 */
export const requestIds = `
ALTER TABLE jobs ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
UPDATE jobs SET request_id = 'job-' || id;
CREATE UNIQUE INDEX jobs_request_id ON jobs (request_id);
`;
