/**
 * Job resources (each kind's `resources` in src/kinds/): what each live job holds, shared or
 * exclusive, and which names it creates.
 *
 * - Rows exist only while their job is live: the trigger removes them the moment the job's
 *   state becomes final, in the same statement, so no code path can forget to release.
 * - `job_resources_creates` is what makes "a name already being made by a live job" impossible
 *   even when two processes enqueue at the same instant: the loser's INSERT fails on it and
 *   becomes `name-taken` naming the holder.
 * - `job_resources_resource` serves the claim's conflict check (other holders of a resource).
 * - Jobs that were live when this migration ran hold their old lock key exclusively, which is
 *   what they held before.
 */
export const jobResources = `
CREATE TABLE job_resources (
  job_id   INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  resource TEXT    NOT NULL,
  mode     TEXT    NOT NULL CHECK (mode IN ('shared', 'exclusive')),
  creates  INTEGER NOT NULL DEFAULT 0 CHECK (creates IN (0, 1)),
  PRIMARY KEY (job_id, resource)
) WITHOUT ROWID;
CREATE INDEX job_resources_resource ON job_resources (resource, job_id);
CREATE UNIQUE INDEX job_resources_creates ON job_resources (resource) WHERE creates = 1;

CREATE TRIGGER job_resources_release AFTER UPDATE OF state ON jobs
WHEN NEW.state IN ('succeeded', 'failed', 'cancelled')
BEGIN
  DELETE FROM job_resources WHERE job_id = NEW.id;
END;

INSERT INTO job_resources (job_id, resource, mode, creates)
SELECT id, lock_key, 'exclusive', 0 FROM jobs WHERE state IN ('awaiting_approval', 'queued', 'running');
`;
