import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openJobStore } from '../src/jobs/store.js';
import { runTool } from './helpers/cli.js';

/**
 * `npm run audit`: src/audit.ts run as a child process (as npm runs it) on a temp database.
 * Slow (each run starts tsx), so `*.slow.test.ts`; the query itself is test/jobs/audit.test.ts.
 */

const HOUR = 3_600_000;
const runCli = (args: readonly string[], env: Record<string, string>, cwd: string) => runTool('src/audit.ts', args, env, cwd);

test('npm run audit: a table or JSON lines, filtered, limited, and its usage errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmops-audit-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'kvmops.db');
  const store = openJobStore(file);
  const now = Date.now();
  const rec = (hoursAgo: number, userId: string, userName: string, command: string, extra: object = {}) =>
    store.audit.record({ at: now - hoursAgo * HOUR, userId, userName, command, options: { vm: 'web-01' }, outcome: 'read', ...extra });
  rec(30, '111', 'alice', 'deploy', { outcome: 'accepted', jobId: 4 });
  rec(3, '111', 'alice', 'snapshot revert', { outcome: 'refused', code: 'forbidden' });
  rec(2, '222', 'mallory\u001b[2J', 'vm start', { outcome: 'accepted', jobId: 9 });
  rec(1, '111', 'alice', 'job list');
  store.close();
  const env = { KVMOPS_DB: file };

  const table = await runCli([], env, dir);
  assert.equal(table.code, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0]!, /^time \(UTC\)\s+user\s+command\s+outcome$/);
  assert.equal(lines.length, 4, 'the default is the last 24h: three rows under the heading');
  assert.match(lines[1]!, /alice \(111\)\s+job list\s+read$/);
  assert.match(lines[2]!, /mallory\?\[2J \(222\)\s+vm start\s+accepted: job #9$/, 'no terminal escape from a display name');
  assert.match(lines[3]!, /snapshot revert\s+refused: forbidden$/);
  assert.doesNotMatch(table.stdout, /\u001b/);

  const json = await runCli(['--since', '7d', '--user', '111', '--json'], env, dir);
  assert.equal(json.code, 0, json.stderr);
  assert.equal(json.stderr, '');
  const rows = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(rows.map((r) => r.command), ['job list', 'snapshot revert', 'deploy']);
  assert.deepEqual(rows[2], {
    time: new Date(now - 30 * HOUR).toISOString(),
    at: now - 30 * HOUR,
    userId: '111',
    userName: 'alice',
    command: 'deploy',
    options: { vm: 'web-01' },
    outcome: 'accepted',
    jobId: 4,
  });

  const cut = await runCli(['--since=7d', '--json', '--limit', '2'], env, dir);
  assert.equal(cut.code, 0, cut.stderr);
  assert.equal(cut.stdout.trimEnd().split('\n').length, 2);
  assert.match(cut.stderr, /^audit: showing 2 of 4; narrow it with --user, --command, a shorter --since, or raise --limit\n$/);

  const byCommand = await runCli(['--since', '2d', '--command', 'Snapshot  Revert', '--json'], env, dir);
  assert.deepEqual(byCommand.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { code: string }).code), ['forbidden']);

  const none = await runCli(['--since', '30m'], env, dir);
  assert.equal(none.code, 0);
  assert.equal(none.stdout, 'nothing audited in the last 30m matches\n');

  for (const [args, message] of [
    [['--since', 'soon'], /--since soon: a duration/],
    [['--since'], /--since needs a value/],
    [['--limit', '0'], /--limit 0: 1–10000/],
    [['--limit', '10001'], /--limit 10001/],
    [['--user', 'a b'], /--user a b: a user id/],
    [['--command', 'rm -rf /'], /--command rm -rf \//],
    [['--verbose'], /unknown option --verbose/],
  ] as const) {
    const r = await runCli([...args], env, dir);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.stderr, message);
    assert.match(r.stderr, /usage: npm run audit --/);
  }

  const missing = join(dir, 'missing.db');
  const noDb = await runCli([], { KVMOPS_DB: missing }, dir);
  assert.equal(noDb.code, 1);
  assert.match(noDb.stderr, /no database at .*missing\.db/);
  assert.equal(existsSync(missing), false, 'a wrong path does not leave an empty database behind');
});
