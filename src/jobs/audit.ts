import { reportingBusy } from './busy.js';
import type { StoreContext } from './context.js';
import type { Database } from 'better-sqlite3';
import type { Audit, AuditEntry, AuditFilter, AuditPage } from './types.js';

interface AuditRow {
  at: number;
  user_id: string;
  user_name: string;
  command: string;
  options: string;
  outcome: AuditEntry['outcome'];
  code: string | null;
  job_id: number | null;
}

const INSERT = `
INSERT INTO audit (at, user_id, user_name, command, options, outcome, code, job_id)
VALUES (@at, @userId, @userName, @command, @options, @outcome, @code, @jobId)`;
const LIST = `SELECT * FROM audit ORDER BY id DESC LIMIT ?`;

/** The most rows one query returns (`npm run audit -- --limit`; /audit shows 20). */
export const AUDIT_MAX_LIMIT = 10_000;
/** A count stops here ("more than 10000"): the count is bounded like the rows. */
export const AUDIT_COUNT_CAP = 10_000;

/**
 * One statement per combination of filters rather than `(? IS NULL OR user_id = ?)`: SQLite
 * picks an index per statement, and only a plain `user_id = ?` lets it use `audit_user_at`
 * (a user's rows in time order) instead of walking every row of the period. Without a user or
 * command, `audit_at` serves the period. With both, the user's index is the one used (`+command`
 * keeps SQLite, which has no statistics here, from picking the command's: one person's rows are
 * far fewer than one command's). Newest first by (at, id): the index order, no sort.
 */
export function querySql(f: Pick<AuditFilter, 'userId' | 'command'>): { rows: string; count: string } {
  const where = ['at >= @since', ...(f.userId !== undefined ? ['user_id = @userId'] : []), ...(f.command !== undefined ? [f.userId !== undefined ? '+command = @command' : 'command = @command'] : [])].join(' AND ');
  return {
    rows: `SELECT * FROM audit WHERE ${where} ORDER BY at DESC, id DESC LIMIT @limit OFFSET @offset`,
    count: `SELECT count(*) AS n FROM (SELECT 1 FROM audit WHERE ${where} LIMIT ${AUDIT_COUNT_CAP + 1})`,
  };
}

function entryOf(r: AuditRow): AuditEntry {
  return {
    at: r.at,
    userId: r.user_id,
    userName: r.user_name,
    command: r.command,
    options: JSON.parse(r.options) as Record<string, unknown>,
    outcome: r.outcome,
    ...(r.code === null ? {} : { code: r.code }),
    ...(r.job_id === null ? {} : { jobId: r.job_id }),
  };
}

/** Every command invocation, refusals included: who, what, with which options, and how it ended. */
export class SqliteAudit implements Audit {
  readonly #insert;
  readonly #list;
  readonly #db: Database;
  /** Prepared on first use, one pair per filter combination (at most four). */
  readonly #queries = new Map<string, { rows: ReturnType<Database['prepare']>; count: ReturnType<Database['prepare']> }>();

  constructor(ctx: StoreContext) {
    this.#db = ctx.db;
    this.#insert = ctx.db.prepare(INSERT);
    this.#list = ctx.db.prepare<[number], AuditRow>(LIST);
  }

  /** Throws `db-busy` when the database is locked or full (nothing written; safe to retry). */
  record(e: AuditEntry): void {
    reportingBusy(() => this.#insert.run({
      at: e.at,
      userId: e.userId,
      userName: e.userName,
      command: e.command,
      options: JSON.stringify(e.options),
      outcome: e.outcome,
      code: e.code ?? null,
      jobId: e.jobId ?? null,
    }));
  }

  list(limit: number): AuditEntry[] {
    return this.#list.all(limit).map(entryOf);
  }

  /** Reads only; `limit` outside 1–AUDIT_MAX_LIMIT is a programming error (callers parse it). */
  query(f: AuditFilter): AuditPage {
    if (!Number.isInteger(f.limit) || f.limit < 1 || f.limit > AUDIT_MAX_LIMIT) throw new RangeError(`audit limit ${f.limit} is not 1–${AUDIT_MAX_LIMIT}`);
    const key = `${f.userId !== undefined}${f.command !== undefined}`;
    let q = this.#queries.get(key);
    if (!q) {
      const sql = querySql(f);
      q = { rows: this.#db.prepare(sql.rows), count: this.#db.prepare(sql.count) };
      this.#queries.set(key, q);
    }
    const params = {
      since: f.since,
      limit: f.limit,
      offset: f.offset ?? 0,
      ...(f.userId !== undefined ? { userId: f.userId } : {}),
      ...(f.command !== undefined ? { command: f.command } : {}),
    };
    const { rows, count } = q;
    // One read transaction: the rows and the count see the same database.
    const [entries, n] = this.#db.transaction(() => [(rows.all(params) as AuditRow[]).map(entryOf), (count.get(params) as { n: number }).n] as const)();
    const totalCapped = n > AUDIT_COUNT_CAP;
    return { entries, total: Math.max(Math.min(n, AUDIT_COUNT_CAP), (f.offset ?? 0) + entries.length), totalCapped };
  }
}
