import { immediate, type StoreContext } from './context.js';
import type { ScheduleRun } from './types.js';

/**
 * Two runs of one schedule are at least this far apart: their snapshots' names (`…-yyyymmdd-hhmm`)
 * then never share a minute.
 */
export const MIN_RUN_GAP_MS = 60_000;

/**
 * The run after one claimed at `now` that was due at `seen`: on the schedule's grid (`seen +
 * every`) while that is still ahead — a tick's lateness does not make the schedule drift — but
 * never within a minute of this run. When a whole period passed since `seen` (the bot was down,
 * or stalled), the missed periods are not made up: one run now, the next a period from now.
 */
export function nextRunAt(seen: number, everyMs: number, now: number): number {
  const onGrid = seen + everyMs;
  if (onGrid <= now) return now + everyMs;
  return Math.max(onGrid, now + MIN_RUN_GAP_MS);
}

/**
 * Compare-and-set: the UPDATE takes the run only while next_run_at is still what the caller saw
 * and is due. Two bots on one database (two connections, two processes) seeing the same due
 * schedule both try; SQLite's write lock orders them, and the second finds next_run_at moved on —
 * 0 rows, no run. The run row is written in the same transaction, so a run is claimed and
 * recorded together or not at all.
 */
const CLAIM = `
UPDATE schedules SET next_run_at = @next, last_run_at = @now
WHERE id = @id AND next_run_at = @seen AND next_run_at <= @now
RETURNING every_ms`;
const INSERT_RUN = `INSERT INTO schedule_runs (schedule_id, at) VALUES (?, ?) RETURNING id`;

export function claimScheduleOp(ctx: StoreContext): (id: number, seen: number, now: number) => ScheduleRun | undefined {
  const every = ctx.db.prepare<[number], number>(`SELECT every_ms FROM schedules WHERE id = ?`).pluck();
  const claim = ctx.db.prepare(CLAIM);
  const insertRun = ctx.db.prepare<[number, number], number>(INSERT_RUN).pluck();
  return immediate(ctx.db, (id: number, seen: number, now: number): ScheduleRun | undefined => {
    const everyMs = every.get(id);
    if (everyMs === undefined) return undefined;
    const took = claim.get({ id, seen, now, next: nextRunAt(seen, everyMs, now) });
    if (!took) return undefined;
    return { id: insertRun.get(id, now)!, scheduleId: id, at: now, batchId: null };
  });
}
