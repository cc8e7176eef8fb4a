import { KvmopsError } from '../domain/errors.js';
import { MAX_KEEP, MIN_EVERY_MS, MIN_KEEP } from '../domain/schedule.js';
import { immediate, type StoreContext } from './context.js';
import { MAX_SCHEDULES, rowToSchedule, type ScheduleRow } from './schedule-list.js';
import type { NewSchedule, Schedule } from './types.js';


const COUNT = `SELECT count(*) FROM schedules`;
const INSERT = `
INSERT INTO schedules (host, pattern, every_ms, keep, kind, creator_id, creator_name, notify_adapter, notify_guild_id,
                       notify_channel_id, next_run_at, created_at)
VALUES (@host, @pattern, @everyMs, @keep, @kind, @creatorId, @creatorName, @adapter, @guildId, @channelId, @nextRunAt, @now)
RETURNING *`;

/**
 * `/schedule create`: a schedule whose first run is due `everyMs` from now (or at `firstRunAt`).
 * Refused with nothing written (`invalid-input`): `every` under a minute, `keep` outside 1–100,
 * a database already holding MAX_SCHEDULES. The command checks the same first, with the words
 * people read; this is the edge for every caller.
 */
export function createScheduleOp(ctx: StoreContext): (spec: NewSchedule) => Schedule {
  const count = ctx.db.prepare<[], number>(COUNT).pluck();
  const insert = ctx.db.prepare(INSERT);
  const tx = immediate(ctx.db, (spec: NewSchedule): Schedule => {
    if (count.get()! >= MAX_SCHEDULES) {
      throw new KvmopsError('invalid-input', `There are ${MAX_SCHEDULES} schedules already, the most kvmops keeps; delete one first (/schedule delete).`, {
        details: { max: MAX_SCHEDULES },
      });
    }
    const now = ctx.now();
    const row = insert.get({
      host: spec.host,
      pattern: spec.pattern,
      everyMs: spec.everyMs,
      keep: spec.keep,
      kind: spec.kind,
      creatorId: spec.creator.id,
      creatorName: spec.creator.name,
      adapter: spec.notify.adapter,
      guildId: spec.notify.guildId,
      channelId: spec.notify.channelId,
      nextRunAt: spec.firstRunAt ?? now + spec.everyMs,
      now,
    }) as ScheduleRow;
    return rowToSchedule(row);
  });
  return (spec) => {
    const issues = scheduleSpecIssues(spec);
    if (issues.length) throw new KvmopsError('invalid-input', `bad schedule: ${issues.join('; ')}`, { details: { issues } });
    return tx(spec);
  };
}

/** What is wrong with a schedule's numbers (none: it may be stored). */
export function scheduleSpecIssues(spec: Pick<NewSchedule, 'everyMs' | 'keep' | 'kind'>): string[] {
  const issues: string[] = [];
  if (!Number.isSafeInteger(spec.everyMs) || spec.everyMs < MIN_EVERY_MS) issues.push('every: at least 1m (one minute)');
  if (!Number.isInteger(spec.keep) || spec.keep < MIN_KEEP || spec.keep > MAX_KEEP) issues.push(`keep: ${MIN_KEEP}–${MAX_KEEP}`);
  if (spec.kind !== 'internal' && spec.kind !== 'external') issues.push('kind: internal or external');
  return issues;
}
