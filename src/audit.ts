/**
 * `npm run audit -- [--since 7d] [--user ID] [--command NAME] [--json] [--limit N]`: the audit
 * (every command the bot saw: who, what, accepted or refused with the reason) from the kvmops
 * database (KVMOPS_DB), newest first. The same rows and rules as `/audit`: `--since` is a
 * duration (default 24h), `--command` a command as the audit names it (`deploy`, `"snapshot
 * revert"`), `--user` a user id (a Discord snowflake; a shell user's name).
 *
 * Output: a table, or with `--json` one JSON object per line (`time` as ISO 8601 UTC, then the
 * row: `at` epoch ms, `userId`, `userName`, `command`, `options`, `outcome`, `code`, `jobId`).
 * When more rows match than `--limit` (default 100, at most 10000), "showing N of M" goes to
 * stderr, so the JSON on stdout stays only rows.
 *
 * Exit codes: 0 printed (also when nothing matches) · 1 reading failed (no database at
 * KVMOPS_DB, …) · 2 usage (unknown option, bad value, invalid environment).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { auditCommandSchema, outcomeText, sinceProblem } from '../commands/audit.js';
import { loadToolEnv } from './config/env.js';
import { parseDuration } from './domain/duration.js';
import { AUDIT_MAX_LIMIT } from './jobs/audit.js';
import { openJobStore } from './jobs/store.js';
import type { AuditEntry, AuditPage } from './jobs/types.js';

const DEFAULT_LIMIT = 100;

const USAGE = `usage: npm run audit -- [--since 7d] [--user ID] [--command NAME] [--json] [--limit N]
  Prints the audit of the kvmops database (KVMOPS_DB), newest first.
  --since D     how far back: 30m, 24h, 7d (default 24h)
  --user ID     only this user (a Discord user id; in the shell, the name)
  --command C   only this command: deploy, "snapshot revert"
  --json        one JSON object per line instead of a table
  --limit N     at most N rows (default ${DEFAULT_LIMIT}, at most ${AUDIT_MAX_LIMIT})`;

function usage(problem: string): never {
  process.stderr.write(`audit: ${problem}\n${USAGE}\n`);
  process.exit(2);
}

interface Args {
  since: string;
  user?: string;
  command?: string;
  json: boolean;
  limit: number;
}

function parseArgs(argv: string[]): Args | 'help' {
  const out: Args = { since: '24h', json: false, limit: DEFAULT_LIMIT };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h' || a === '--help') return 'help';
    if (a === '--json') {
      out.json = true;
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(0, eq) : a;
    if (!['--since', '--user', '--command', '--limit'].includes(name)) usage(`unknown option ${a}`);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) usage(`${name} needs a value`);
    if (name === '--since') {
      const problem = sinceProblem(value);
      if (problem) usage(`--since ${value}: ${problem}`);
      out.since = value.trim();
    } else if (name === '--user') {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value)) usage(`--user ${value}: a user id`);
      out.user = value;
    } else if (name === '--command') {
      const r = auditCommandSchema.safeParse(value);
      if (!r.success) usage(`--command ${value}: a command such as deploy or "snapshot revert"`);
      out.command = r.data;
    } else {
      if (!/^\d{1,6}$/.test(value) || Number(value) < 1 || Number(value) > AUDIT_MAX_LIMIT) usage(`--limit ${value}: 1–${AUDIT_MAX_LIMIT}`);
      out.limit = Number(value);
    }
  }
  return out;
}

/** Names are whatever people set: no terminal control sequences from them. */
const printable = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');

function table(entries: readonly AuditEntry[]): string {
  const rows = entries.map((e) => [
    new Date(e.at).toISOString().replace('T', ' ').slice(0, 19),
    printable(`${e.userName} (${e.userId})`),
    printable(e.command),
    outcomeText(e),
  ]);
  const head = ['time (UTC)', 'user', 'command', 'outcome'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  return [head, ...rows].map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ')).join('\n');
}

function cutNote(page: AuditPage): string | undefined {
  if (!page.totalCapped && page.total <= page.entries.length) return undefined;
  return `showing ${page.entries.length} of ${page.totalCapped ? `more than ${page.total}` : page.total}; narrow it with --user, --command, a shorter --since, or raise --limit`;
}

function main(argv: string[]): void {
  const args = parseArgs(argv);
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const env = loadToolEnv(usage);
  const file = resolve(env.KVMOPS_DB);
  // Opening would create an empty database: a wrong path must say so instead of printing nothing.
  if (!existsSync(file)) throw new Error(`no database at ${file} (KVMOPS_DB)`);
  const store = openJobStore(file);
  let page: AuditPage;
  try {
    page = store.audit.query({ since: Date.now() - parseDuration(args.since), userId: args.user, command: args.command, limit: args.limit });
  } finally {
    store.close();
  }
  const note = cutNote(page);
  if (args.json) {
    process.stdout.write(page.entries.map((e) => `${JSON.stringify({ time: new Date(e.at).toISOString(), ...e })}\n`).join(''));
    if (note) process.stderr.write(`audit: ${note}\n`);
  } else {
    process.stdout.write(page.entries.length ? `${table(page.entries)}\n` : `nothing audited in the last ${args.since} matches\n`);
    if (note) process.stdout.write(`${note}\n`);
  }
}

try {
  main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`audit: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
