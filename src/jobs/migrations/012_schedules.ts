/**
 * Scheduled snapshots (`/schedule create|list|delete`, issue 25). Self-contained DDL.
 *
 * - `schedules`: one row per schedule. `next_run_at` is the whole of its timing: a run is
 *   claimed by ONE compare-and-set UPDATE (`… WHERE id = ? AND next_run_at = :seen AND
 *   next_run_at <= :now`, schedule-claim.ts), so two bots on one database never run it twice.
 *   AUTOINCREMENT: an id is never handed out again, since `auto-<id>-…` names a schedule's
 *   snapshots and a new schedule must never take an old one's for its own. The creator and where
 *   the schedule was made are each run's requester and status channel.
 * - `schedule_runs`: a run whose retention is still to do (rows go once it is done: the table
 *   holds only open runs). `batch_id` is the run's batch lead; NULL while enqueueing, or when no
 *   VM matched.
 * - `schedule_snapshots`: the snapshots a schedule MADE (its run's snapshot job succeeded),
 *   pinned by the VM's uuid and libvirt's creation time — what retention may delete. A hand-made
 *   snapshot named like an auto one is never here, so never deleted.
 * - `jobs.quiet`: a job whose batch ends in success mentions nobody (a schedule's run); a failure
 *   still mentions its requester.
 */
export const schedules = `
CREATE TABLE schedules (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  host              TEXT    NOT NULL,
  pattern           TEXT    NOT NULL,
  every_ms          INTEGER NOT NULL CHECK (every_ms >= 60000),
  keep              INTEGER NOT NULL CHECK (keep BETWEEN 1 AND 100),
  kind              TEXT    NOT NULL CHECK (kind IN ('internal', 'external')),
  creator_id        TEXT    NOT NULL,
  creator_name      TEXT    NOT NULL,
  notify_adapter    TEXT    NOT NULL,
  notify_guild_id   TEXT,
  notify_channel_id TEXT    NOT NULL,
  next_run_at       INTEGER NOT NULL,
  last_run_at       INTEGER,
  last_batch_id     INTEGER,
  last_note         TEXT,
  created_at        INTEGER NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_run_at);
CREATE TABLE schedule_runs (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  schedule_id INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
  at          INTEGER NOT NULL,
  batch_id    INTEGER
);
CREATE INDEX schedule_runs_schedule ON schedule_runs (schedule_id);
CREATE TABLE schedule_snapshots (
  schedule_id INTEGER NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
  host        TEXT    NOT NULL,
  vm_uuid     TEXT    NOT NULL,
  vm          TEXT    NOT NULL,
  name        TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  job_id      INTEGER NOT NULL,
  PRIMARY KEY (schedule_id, host, vm_uuid, name)
);
CREATE INDEX schedule_snapshots_age ON schedule_snapshots (schedule_id, host, vm_uuid, created_at, name);
ALTER TABLE jobs ADD COLUMN quiet INTEGER NOT NULL DEFAULT 0;
`;
