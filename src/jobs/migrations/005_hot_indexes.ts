/**
 * Every hot query on an index, and job counts kept as jobs change (issue 22, step 2).
 *
 * - `jobs_state (state, id)` serves `/job list state:X` (newest first) and the worker's due scan
 *   (the newest queued jobs): a seek, not a walk of the whole history backwards.
 * - `jobs_requester_state (requester_id, state, id)` serves `/job list mine:true state:X`;
 *   `jobs_requester` (001) already serves `mine:true` alone.
 * - `jobs_finished (finished_at) WHERE state IN (final states)` serves the metrics' recent
 *   finished jobs (newest finish first) and the retention prune (oldest finish first).
 * - `job_counts (state, kind, n)`: jobs per state and kind, kept by triggers on `jobs` in the
 *   same transaction as the change that moves them (insert, state change, delete — by kvmops,
 *   by the prune or by hand), so the metrics read a handful of rows instead of counting the
 *   whole table. Filled once here from the rows already there.
 *
 * Self-contained: it names only tables and columns that exist at version 4.
 */
export const hotIndexes = `
CREATE INDEX jobs_state ON jobs (state, id);
CREATE INDEX jobs_requester_state ON jobs (requester_id, state, id);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('succeeded', 'failed', 'cancelled');

CREATE TABLE job_counts (
  state TEXT    NOT NULL,
  kind  TEXT    NOT NULL,
  n     INTEGER NOT NULL,
  PRIMARY KEY (state, kind)
) WITHOUT ROWID;

INSERT INTO job_counts (state, kind, n) SELECT state, kind, count(*) FROM jobs GROUP BY state, kind;

CREATE TRIGGER job_counts_insert AFTER INSERT ON jobs
BEGIN
  INSERT INTO job_counts (state, kind, n) VALUES (NEW.state, NEW.kind, 1)
  ON CONFLICT (state, kind) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER job_counts_update AFTER UPDATE OF state, kind ON jobs
WHEN OLD.state IS NOT NEW.state OR OLD.kind IS NOT NEW.kind
BEGIN
  UPDATE job_counts SET n = n - 1 WHERE state = OLD.state AND kind = OLD.kind;
  INSERT INTO job_counts (state, kind, n) VALUES (NEW.state, NEW.kind, 1)
  ON CONFLICT (state, kind) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER job_counts_delete AFTER DELETE ON jobs
BEGIN
  UPDATE job_counts SET n = n - 1 WHERE state = OLD.state AND kind = OLD.kind;
END;
`;
