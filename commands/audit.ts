import { z } from 'zod';
import { defineCommand, subcommand } from '../src/chat/command.js';
import { readReply } from '../src/chat/command-kit.js';
import { options, text, user } from '../src/chat/options.js';
import { moment, person } from '../src/chat/people.js';
import { count, showingLine } from '../src/chat/format.js';
import { formatDuration, parseDuration } from '../src/domain/duration.js';
import type { AuditEntry, AuditPage } from '../src/jobs/types.js';

/**
 * /audit — who did what, for admins: every command the router saw (src/chat/router.ts writes one
 * row each), accepted or refused with the reason. Reads the SQLite store only, through indexes
 * (src/jobs/audit.ts), so it answers at once. Ephemeral: the audit is not the channel's business.
 */

/** How many rows /audit shows, newest first; beyond it the reply says "showing 20 of N". */
export const AUDIT_LIST_LIMIT = 20;
/** The longest `since`: ten years (rows older than KVMOPS_AUDIT_RETENTION are gone anyway). */
export const AUDIT_MAX_SINCE_MS = 3650 * 86_400_000;

/** A period back from now: `30m`, `24h`, `7d` (the environment's duration spelling). */
export function sinceProblem(s: string): string | undefined {
  let ms: number;
  try {
    ms = parseDuration(s);
  } catch {
    return 'a duration such as 2h or 7d';
  }
  if (ms <= 0) return 'must be positive';
  if (ms > AUDIT_MAX_SINCE_MS) return 'at most 3650d';
  return undefined;
}

const sinceSchema = z
  .string()
  .trim()
  .superRefine((s, ctx) => {
    const problem = sinceProblem(s);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });

/** A command as the audit names it: `deploy`, `snapshot revert` (a leading `/` and extra blanks are dropped). */
export const auditCommandSchema = z
  .string()
  .transform((s) => s.trim().replace(/^\//, '').replace(/\s+/g, ' ').toLowerCase())
  .pipe(z.string().regex(/^[a-z0-9_-]{1,32}( [a-z0-9_-]{1,32})?$/, 'a command such as deploy or "snapshot revert"'));

/** One audit row as a line: when, who (a mention that does not ping), what, and how it ended. */
export function auditLine(e: AuditEntry): string {
  return `${moment(e.at)} · ${person({ id: e.userId, name: e.userName })} · /${e.command} · ${outcomeText(e)}`;
}

export function outcomeText(e: Pick<AuditEntry, 'outcome' | 'code' | 'jobId'>): string {
  const job = e.jobId !== undefined ? `job #${e.jobId}` : undefined;
  switch (e.outcome) {
    case 'accepted':
      return job ? `accepted: ${job}` : 'accepted';
    case 'refused':
      return `refused: ${e.code ?? '?'}${job ? ` (${job})` : ''}`;
    case 'error':
      return `error: ${e.code ?? '?'}${job ? ` (${job})` : ''}`;
    case 'read':
      return 'read';
  }
}

/** "showing 21–40 of 154" and how to narrow it, when the page is cut; nothing when it is whole. */
export function cutLine(page: AuditPage, offset: number, used: { user: boolean; command: boolean }): string | undefined {
  const showing = showingLine({ offset, total: page.total, capped: page.totalCapped }, page.entries.length);
  if (!showing) return undefined;
  const narrow = [used.user ? undefined : 'user:', used.command ? undefined : 'command:', 'a shorter since:'].filter(Boolean).join(', ');
  return `${showing}; narrow it with ${narrow}`;
}

export default defineCommand({
  name: 'audit',
  description: 'Who did what: commands run, accepted or refused with the reason (admins)',
  flat: true,
  subcommands: [
    subcommand({
      name: 'audit',
      description: 'Who did what: commands run, accepted or refused with the reason (admins)',
      role: 'admin',
      mutates: false,
      defer: false,
      options: options({
        user: user('Only this member').optional(),
        command: text('Only this command, e.g. deploy or snapshot revert', auditCommandSchema, { maxLength: 66 }).optional(),
        since: text('How far back, e.g. 2h or 7d (default 24h)', sinceSchema, { maxLength: 16 }).default('24h'),
      }),
      async handle({ options: o, services, offset }) {
        const now = services.now();
        // A later page's `since` counts back from the click, not from the first page: rows
        // that aged out meanwhile are gone from the count too, so the pages stay consistent.
        const page = await services.audit.query({
          since: now - parseDuration(o.since),
          userId: o.user,
          command: o.command,
          limit: AUDIT_LIST_LIMIT,
          offset,
        });
        const title = `Audit, last ${formatDuration(parseDuration(o.since))}${o.command ? `, /${o.command}` : ''}`;
        const who = o.user !== undefined ? [`only ${person({ id: o.user, name: page.entries[0]?.userName ?? o.user })}`] : [];
        const cut = cutLine(page, offset, { user: o.user !== undefined, command: o.command !== undefined });
        const none = offset > 0 && page.total > 0 ? `(nothing past ${count(page.total)}: the list is shorter now)` : '(nothing audited matches)';
        const lines = page.entries.length ? page.entries.map(auditLine) : [none];
        return {
          ...readReply(title, [...who, ...lines, ...(cut ? [cut] : [])]),
          page: { offset, limit: AUDIT_LIST_LIMIT, total: page.total, ...(page.totalCapped ? { capped: true } : {}) },
        };
      },
    }),
  ],
});
