/**
 * The initial schema. Times are epoch milliseconds; booleans are 0/1; JSON columns hold text.
 *
 * Why these indexes:
 * - `jobs_dedupe_live` is what makes a live duplicate impossible, even when two processes enqueue
 *   at the same moment: the loser's INSERT fails on it and becomes `duplicate-job`.
 * - `jobs_claimable`, `jobs_lock` and `jobs_host_running` serve the one-statement claim
 *   (the oldest queued job whose lock key is free and whose host is below its limit).
 * - `jobs_lease` serves the reaper; `approvals_message` the reaction lookup; `approvals_pending`
 *   the expiry sweep; `job_events_pending` the notifier.
 *
 * `audit.job_id` has no foreign key on purpose: an audit row must be writable whatever happened.
 */
export const initial = `
CREATE TABLE jobs (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  kind              TEXT    NOT NULL,
  payload           TEXT    NOT NULL CHECK (json_valid(payload)),
  state             TEXT    NOT NULL CHECK (state IN ('awaiting_approval', 'queued', 'running', 'succeeded', 'failed', 'cancelled')),
  lock_key          TEXT    NOT NULL,
  host              TEXT    NOT NULL,
  dedupe_key        TEXT    NOT NULL,
  priority          INTEGER NOT NULL DEFAULT 0,
  run_at            INTEGER NOT NULL,
  attempts          INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  max_attempts      INTEGER NOT NULL CHECK (max_attempts >= 1),
  lease_owner       TEXT,
  lease_token       INTEGER NOT NULL DEFAULT 0,
  lease_expires_at  INTEGER,
  cancel_requested  INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
  recovered         INTEGER NOT NULL DEFAULT 0 CHECK (recovered IN (0, 1)),
  error_code        TEXT,
  error_message     TEXT,
  result            TEXT,
  progress          TEXT,
  requester_id      TEXT    NOT NULL,
  requester_name    TEXT    NOT NULL,
  notify_adapter    TEXT    NOT NULL,
  notify_guild_id   TEXT,
  notify_channel_id TEXT    NOT NULL,
  status_message_id TEXT,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  started_at        INTEGER,
  finished_at       INTEGER,
  CHECK ((state = 'running') = (lease_expires_at IS NOT NULL))
);
CREATE UNIQUE INDEX jobs_dedupe_live ON jobs (dedupe_key) WHERE state IN ('awaiting_approval', 'queued', 'running');
CREATE INDEX jobs_claimable ON jobs (priority DESC, id) WHERE state = 'queued';
CREATE INDEX jobs_lock ON jobs (lock_key, state, id);
CREATE INDEX jobs_host_running ON jobs (host) WHERE state = 'running';
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_requester ON jobs (requester_id, id);

CREATE TABLE job_events (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id       INTEGER NOT NULL REFERENCES jobs (id),
  type         TEXT    NOT NULL,
  job          TEXT    NOT NULL CHECK (json_valid(job)),
  created_at   INTEGER NOT NULL,
  delivered_at INTEGER,
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_error   TEXT
);
CREATE INDEX job_events_pending ON job_events (id) WHERE delivered_at IS NULL;
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE TABLE approvals (
  job_id       INTEGER PRIMARY KEY REFERENCES jobs (id),
  state        TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
  adapter      TEXT,
  channel_id   TEXT,
  message_id   TEXT,
  requester_id TEXT    NOT NULL,
  decided_by   TEXT,
  decided_at   INTEGER,
  expires_at   INTEGER NOT NULL,
  created_at   INTEGER NOT NULL
);
CREATE INDEX approvals_message ON approvals (message_id);
CREATE INDEX approvals_pending ON approvals (expires_at) WHERE state = 'pending';

CREATE TABLE audit (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  at        INTEGER NOT NULL,
  user_id   TEXT    NOT NULL,
  user_name TEXT    NOT NULL,
  command   TEXT    NOT NULL,
  options   TEXT    NOT NULL CHECK (json_valid(options)),
  outcome   TEXT    NOT NULL CHECK (outcome IN ('accepted', 'refused', 'read', 'error')),
  code      TEXT,
  job_id    INTEGER
);
CREATE INDEX audit_at ON audit (at);
`;
