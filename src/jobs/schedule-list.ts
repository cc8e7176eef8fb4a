import type { Database } from 'better-sqlite3';
import type { Schedule } from './types.js';

/** The most schedules one database keeps: `/schedule list` shows them all in one reply. */
export const MAX_SCHEDULES = 100;

export interface ScheduleRow {
  id: number;
  host: string;
  pattern: string;
  every_ms: number;
  keep: number;
  kind: string;
  creator_id: string;
  creator_name: string;
  notify_adapter: string;
  notify_guild_id: string | null;
  notify_channel_id: string;
  next_run_at: number;
  last_run_at: number | null;
  last_batch_id: number | null;
  last_note: string | null;
  created_at: number;
}

export function rowToSchedule(r: ScheduleRow): Schedule {
  return {
    id: r.id,
    host: r.host,
    pattern: r.pattern,
    everyMs: r.every_ms,
    keep: r.keep,
    kind: r.kind === 'external' ? 'external' : 'internal',
    creator: { id: r.creator_id, name: r.creator_name },
    notify: { adapter: r.notify_adapter, guildId: r.notify_guild_id, channelId: r.notify_channel_id },
    nextRunAt: r.next_run_at,
    lastRunAt: r.last_run_at,
    lastBatchId: r.last_batch_id,
    lastNote: r.last_note,
    createdAt: r.created_at,
  };
}

/** `/schedule list`: every schedule by id (bounded: at most MAX_SCHEDULES rows exist). */
export const LIST_SCHEDULES_SQL = `SELECT * FROM schedules ORDER BY id LIMIT ${MAX_SCHEDULES}`;

export function listSchedulesOp(db: Database): () => Schedule[] {
  const list = db.prepare<[], ScheduleRow>(LIST_SCHEDULES_SQL);
  return () => list.all().map(rowToSchedule);
}
