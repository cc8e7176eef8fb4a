import { reportingBusy } from './busy.js';
import type { StoreContext } from './context.js';
import type { Audit, AuditEntry } from './types.js';

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

/** Every command invocation, refusals included: who, what, with which options, and how it ended. */
export class SqliteAudit implements Audit {
  readonly #insert;
  readonly #list;

  constructor(ctx: StoreContext) {
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
    return this.#list.all(limit).map((r) => ({
      at: r.at,
      userId: r.user_id,
      userName: r.user_name,
      command: r.command,
      options: JSON.parse(r.options) as Record<string, unknown>,
      outcome: r.outcome,
      ...(r.code === null ? {} : { code: r.code }),
      ...(r.job_id === null ? {} : { jobId: r.job_id }),
    }));
  }
}
