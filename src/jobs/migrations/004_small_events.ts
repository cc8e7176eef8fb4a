// The driver's type, not db.ts's alias: db.ts runs these migrations, so importing it would close a circle.
import type BetterSqlite3 from 'better-sqlite3';
import { eventParams } from '../context.js';
import type { Job, JobEventType } from '../types.js';

/**
 * Small events, and an outbox read per adapter.
 *
 * - An event held a JSON copy of its whole job (~3.4 KB); it now holds what its notification
 *   shows (JobSnapshot: the title, the one detail of its state, ids, where to post), ≤ 0.5 KB.
 * - `job_events_pending (adapter, id) WHERE delivered_at IS NULL` serves the notifier's read of
 *   one adapter's pending events, oldest first: events for an adapter no running process serves
 *   (a shell session on the bot's database) are never read by the others, so they cannot jam them.
 *
 * The table is rebuilt (SQLite cannot drop a column used by a CHECK) and every old row is
 * rewritten, ids and delivery state kept: an event still pending before the upgrade is delivered
 * after it, drawn from its old copy of the job as a new event would be (delivered ones: see
 * DELIVERED). The file does not shrink by itself (freed pages are reused); `VACUUM` gives the
 * space back (docs/operations.md).
 *
 * Self-contained: it writes through its own INSERT (its own column list) into the table it
 * creates, whatever later migrations change; the values come from the code that writes events
 * (`eventParams`: title, result summary, cuts), whose extra parameters the INSERT ignores.
 */
const TABLE = `
CREATE TABLE job_events_small (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id            INTEGER NOT NULL REFERENCES jobs (id),
  type              TEXT    NOT NULL,
  adapter           TEXT    NOT NULL,
  guild_id          TEXT,
  channel_id        TEXT    NOT NULL,
  kind              TEXT    NOT NULL,
  state             TEXT    NOT NULL,
  title             TEXT    NOT NULL,
  requester_id      TEXT    NOT NULL,
  requester_name    TEXT    NOT NULL,
  job_attempts      INTEGER NOT NULL,
  max_attempts      INTEGER NOT NULL,
  recovered         INTEGER NOT NULL CHECK (recovered IN (0, 1)),
  cancel_requested  INTEGER NOT NULL CHECK (cancel_requested IN (0, 1)),
  run_at            INTEGER NOT NULL,
  started_at        INTEGER,
  finished_at       INTEGER,
  progress_step     TEXT,
  progress_fraction REAL,
  result            TEXT,
  error_code        TEXT,
  error_message     TEXT,
  created_at        INTEGER NOT NULL,
  delivered_at      INTEGER,
  attempts          INTEGER NOT NULL DEFAULT 0,
  last_error        TEXT
)`;

const INSERT = `
INSERT INTO job_events_small (id, job_id, type, adapter, guild_id, channel_id, kind, state, title, requester_id,
  requester_name, job_attempts, max_attempts, recovered, cancel_requested, run_at, started_at, finished_at,
  progress_step, progress_fraction, result, error_code, error_message, created_at, delivered_at, attempts, last_error)
VALUES (@id, @jobId, @type, @adapter, @guildId, @channelId, @kind, @state, @title, @requesterId,
  @requesterName, @jobAttempts, @maxAttempts, @recovered, @cancelRequested, @runAt, @startedAt, @finishedAt,
  @progressStep, @progressFraction, @result, @errorCode, @errorMessage, @createdAt, @deliveredAt, @attempts, @lastError)`;

const SWAP = `
DROP TABLE job_events;
ALTER TABLE job_events_small RENAME TO job_events;
CREATE INDEX job_events_pending ON job_events (adapter, id) WHERE delivered_at IS NULL;
CREATE INDEX job_events_job ON job_events (job_id, id);
`;

interface OldRow {
  id: number;
  job_id: number;
  type: string;
  job: string;
  created_at: number;
  delivered_at: number | null;
  attempts: number;
  last_error: string | null;
}

/**
 * Delivered events, in SQL alone (a few µs a row: a big history migrates in seconds, not
 * minutes): ids, type, state, times, where they went, who asked. Their texts (title, result,
 * error, progress) are not rebuilt — nothing shows a delivered event again — the title is the
 * job's kind.
 */
const DELIVERED = `
INSERT INTO job_events_small (id, job_id, type, adapter, guild_id, channel_id, kind, state, title, requester_id,
  requester_name, job_attempts, max_attempts, recovered, cancel_requested, run_at, started_at, finished_at,
  created_at, delivered_at, attempts, last_error)
SELECT id, job_id, type, job ->> '$.notify.adapter', job ->> '$.notify.guildId', job ->> '$.notify.channelId',
  job ->> '$.kind', job ->> '$.state', job ->> '$.kind', job ->> '$.requester.id', job ->> '$.requester.name',
  job ->> '$.attempts', job ->> '$.maxAttempts', job ->> '$.recovered', job ->> '$.cancelRequested', job ->> '$.runAt',
  job ->> '$.startedAt', job ->> '$.finishedAt', created_at, delivered_at, attempts, last_error
FROM job_events WHERE delivered_at IS NOT NULL`;

const PAGE = 1_000;

export function smallEvents(db: BetterSqlite3.Database): void {
  db.exec(TABLE);
  db.exec(DELIVERED);
  // Pending events, each drawn from its old copy of the job exactly as a new event is written.
  const page = db.prepare<[number, number], OldRow>(
    `SELECT id, job_id, type, job, created_at, delivered_at, attempts, last_error FROM job_events
     WHERE delivered_at IS NULL AND id > ? ORDER BY id LIMIT ?`,
  );
  const insert = db.prepare(INSERT);
  for (let after = 0; ; ) {
    const rows = page.all(after, PAGE);
    for (const r of rows) {
      insert.run({
        ...eventParams(r.type as JobEventType, JSON.parse(r.job) as Job),
        id: r.id,
        createdAt: r.created_at,
        deliveredAt: r.delivered_at,
        attempts: r.attempts,
        lastError: r.last_error,
      });
    }
    if (rows.length < PAGE) break;
    after = rows[rows.length - 1]!.id;
  }
  // AUTOINCREMENT never hands out an id again: the new table keeps counting where the old one was.
  const seq = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'job_events'`).get() as { seq: number } | undefined;
  db.exec(SWAP);
  if (seq && db.prepare(`UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'job_events'`).run(seq.seq).changes === 0) {
    db.prepare(`INSERT INTO sqlite_sequence (name, seq) VALUES ('job_events', ?)`).run(seq.seq);
  }
}
