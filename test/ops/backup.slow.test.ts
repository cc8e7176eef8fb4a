import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { backupDatabase } from '../../src/jobs/backup.js';
import { openDatabase } from '../../src/jobs/db.js';
import { SCHEMA_VERSION } from '../../src/jobs/migrations/index.js';
import { runTool } from '../helpers/cli.js';
import { seed, tempDir } from './helpers.js';

/**
 * Backups beside another process, and the CLI: each test starts node processes with tsx
 * (most of a second of CPU apiece), so these are `*.slow.test.ts` (`npm test`, not
 * `npm run test:unit`); the in-process checks are in backup.test.ts.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = import.meta.resolve('tsx');

interface Writer {
  child: ChildProcess;
  /** Ids the writer reported finished, in the order read. */
  done: number[];
  errors: string[];
  stop(): Promise<number | null>;
}

async function startWriter(t: TestContext, file: string): Promise<Writer> {
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'test/ops/fixtures/writer.ts'), file], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const w: Writer = {
    child,
    done: [],
    errors: [],
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`writer exited early with ${code}: ${w.errors.join('; ')}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: true; done?: number; error?: string };
      if (msg.ready) resolve();
      if (msg.done !== undefined) w.done.push(msg.done);
      if (msg.error) w.errors.push(msg.error);
    });
  });
  return w;
}

const until = async (cond: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** Opens a backup the way kvmops would after a restore, and checks every id is there, succeeded. */
function assertHolds(backup: string, finished: readonly number[]): { jobs: number } {
  const db = openDatabase(backup);
  try {
    assert.deepEqual(db.pragma('integrity_check'), [{ integrity_check: 'ok' }]);
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    const state = db.prepare<[number], { state: string }>('SELECT state FROM jobs WHERE id = ?');
    const missing = finished.filter((id) => state.get(id)?.state !== 'succeeded');
    assert.deepEqual(missing, [], `${missing.length} of ${finished.length} finished jobs missing or not succeeded`);
    return { jobs: (db.prepare('SELECT COUNT(*) AS n FROM jobs').get() as { n: number }).n };
  } finally {
    db.close();
  }
}

test('a backup taken while another process writes jobs opens cleanly and holds every finished job', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'data', 'kvmops.db');
  const seeded = seed(file, 1_500);
  const writer = await startWriter(t, file);
  await until(() => writer.done.length >= 100);

  // From the file name (what `npm run backup` does), three times while the writer runs.
  let lastJobs = 0;
  for (const n of [1, 2, 3]) {
    const finishedBefore = [...seeded, ...writer.done];
    const progress: number[] = [];
    const dest = join(dir, `backup-${n}.db`);
    const r = await backupDatabase(file, dest, (p) => progress.push(p.remainingPages));
    assert.equal(r.file, dest);
    assert.ok(r.pages > 100, `pages ${r.pages}`);
    assert.ok(r.bytes >= r.pages * 1024);
    assert.ok(r.jobs >= finishedBefore.length, `${r.jobs} jobs in the copy, ${finishedBefore.length} finished before`);
    assert.ok(r.jobs > lastJobs, 'each backup sees the writer’s newer jobs');
    lastJobs = r.jobs;
    assert.equal(r.schemaVersion, SCHEMA_VERSION);
    const held = assertHolds(dest, finishedBefore);
    assert.equal(held.jobs, r.jobs);
    await until(() => writer.done.length > finishedBefore.length - seeded.length + 20);
  }
  assert.ok(writer.done.length > 160, 'the writer kept committing between and during backups');

  // From this process's own connection, the bot's case (an in-process backup).
  const own = openDatabase(file);
  t.after(() => own.open && own.close());
  const finishedBefore = [...seeded, ...writer.done];
  const r = await backupDatabase(own, join(dir, 'backup-own.db'));
  assertHolds(r.file, finishedBefore);
  assert.ok(own.open, 'a connection passed in stays open');
  own.close();

  assert.equal(await writer.stop(), 0, `writer errors: ${writer.errors.join('; ')}`);
  assert.deepEqual(writer.errors, [], 'the writer never saw SQLITE_BUSY or a lost lease');

  // One self-contained file per backup: no -wal, -shm or .tmp left behind.
  const files = readdirSync(dir).filter((f) => f.startsWith('backup-')).sort();
  assert.deepEqual(files, ['backup-1.db', 'backup-2.db', 'backup-3.db', 'backup-own.db']);
});

const runCli = (args: readonly string[], env: Record<string, string>, cwd: string) => runTool('src/backup.ts', args, env, cwd);

test('npm run backup -- FILE: the CLI', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'data', 'kvmops.db');
  seed(file, 5);

  const none = await runCli([], { KVMOPS_DB: file }, dir);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /which FILE/);
  assert.match(none.stderr, /usage: npm run backup -- FILE/);

  const dest = join(dir, 'b.db');
  const ok = await runCli([dest], { KVMOPS_DB: file }, dir);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, new RegExp(`→ ${dest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.match(ok.stdout, /5 jobs, schema v\d+, \d+ pages, \d+ bytes, integrity ok/);
  assert.ok(existsSync(dest));
  assert.deepEqual(readdirSync(join(dir, 'data')), ['kvmops.db'], 'no -wal/-shm left beside a database nobody had open');

  const again = await runCli([dest], { KVMOPS_DB: file }, dir);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /exists; pass --force/);
  assert.equal((await runCli([dest, '--force'], { KVMOPS_DB: file }, dir)).code, 0);

  // KVMOPS_DB from ./.env when the environment does not set it; relative to the working dir.
  writeFileSync(join(dir, '.env'), 'KVMOPS_DB=./data/kvmops.db\n');
  const fromDotEnv = await runCli(['c.db'], {}, dir);
  assert.equal(fromDotEnv.code, 0, fromDotEnv.stderr);
  assert.match(fromDotEnv.stdout, /5 jobs/);

  const bad = await runCli([join(dir, 'd.db')], { KVMOPS_DB: join(dir, 'missing.db') }, dir);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no database at/);

  const badEnv = await runCli([join(dir, 'e.db')], { KVMOPS_DB: file, KVMOPS_HTTP_PORT: 'x' }, dir);
  assert.equal(badEnv.code, 2);
  assert.match(badEnv.stderr, /KVMOPS_HTTP_PORT/);
});
