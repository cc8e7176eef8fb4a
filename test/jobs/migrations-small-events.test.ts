import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { silentLogger } from '../../src/domain/logger.js';
import { MIGRATIONS } from '../../src/jobs/migrations/index.js';
import { PENDING_OF_JOB_SQL, PENDING_SQL } from '../../src/jobs/outbox.js';
import { migrate } from '../../src/jobs/migrations/index.js';
import type { Job } from '../../src/jobs/types.js';
import { Notifier } from '../../src/notifier/notifier.js';
import { RecordingSink } from '../notifier/recording-sink.js';
import { deferrals } from '../worker/helpers.js';
import { openStore, tempDbFile } from './helpers.js';

/**
 * The small-events migration on a database the last release wrote (schema 2): each job_events
 * row held a JSON copy of its whole job (what `JSON.stringify(job)` gave). Opening it runs every
 * migration since, as an upgrade does.
 */
const T0 = 1_700_000_000_000;
const before = MIGRATIONS.filter((m) => m.version <= 2);

/** A job as the old code serialized it into an event (every field Job had then: no request id, batch or quiet flag yet). */
type OldJob = Omit<Job, 'requestId' | 'batchId' | 'quiet'>;
function oldJob(over: Partial<OldJob> & Pick<OldJob, 'id' | 'kind' | 'payload' | 'state'>): OldJob {
  return {
    lockKey: 'k',
    dedupeKey: `d${over.id}`,
    priority: 0,
    runAt: T0,
    attempts: 1,
    maxAttempts: 3,
    leaseOwner: null,
    leaseToken: 1,
    leaseExpiresAt: null,
    cancelRequested: false,
    recovered: false,
    error: null,
    result: null,
    progress: null,
    requester: { id: '100', name: 'alice' },
    notify: { adapter: 'shell', guildId: null, channelId: 'ops' },
    statusMessageId: null,
    createdAt: T0,
    updatedAt: T0,
    startedAt: null,
    finishedAt: null,
    ...over,
  };
}

const deployed = oldJob({
  id: 1,
  kind: 'deploy',
  payload: { host: 'local', template: 'base', name: 'web', mode: 'thin', count: 3, start: true },
  state: 'succeeded',
  startedAt: T0,
  finishedAt: T0 + 42_000,
  updatedAt: T0 + 42_000,
  result: { vms: ['web-01', 'web-02', 'web-03'], mode: 'thin', started: true },
});
const failed = oldJob({
  id: 2,
  kind: 'vm.start',
  payload: { host: 'local', vm: 'db' },
  state: 'failed',
  startedAt: T0,
  finishedAt: T0 + 1_000,
  updatedAt: T0 + 1_000,
  error: { code: 'vm-not-found', message: 'no VM named db on local' },
  requester: { id: '555', name: 'bob' },
  notify: { adapter: 'discord', guildId: 'g1', channelId: 'c1' },
});

/** A version-2 database holding the two jobs and their events in the old shape. */
function oldDatabase(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const raw = new BetterSqlite3(file);
  migrate(raw, before);
  const insertJob = raw.prepare(
    `INSERT INTO jobs (id, kind, payload, state, lock_key, host, dedupe_key, run_at, attempts, max_attempts, requester_id,
       requester_name, notify_adapter, notify_guild_id, notify_channel_id, created_at, updated_at, started_at, finished_at,
       result, error_code, error_message)
     VALUES (@id, @kind, @payload, @state, 'k', 'local', @dedupeKey, @runAt, @attempts, @maxAttempts, @rid, @rname,
       @adapter, @guild, @channel, @createdAt, @updatedAt, @startedAt, @finishedAt, @result, @code, @message)`,
  );
  for (const j of [deployed, failed]) {
    insertJob.run({
      ...j,
      payload: JSON.stringify(j.payload),
      rid: j.requester.id,
      rname: j.requester.name,
      adapter: j.notify.adapter,
      guild: j.notify.guildId,
      channel: j.notify.channelId,
      result: j.result === null ? null : JSON.stringify(j.result),
      code: j.error?.code ?? null,
      message: j.error?.message ?? null,
    });
  }
  const event = raw.prepare(`INSERT INTO job_events (id, job_id, type, job, created_at, delivered_at, attempts, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const at = (j: OldJob, over: Partial<OldJob>) => JSON.stringify({ ...j, ...over });
  // Job 1: queued and running delivered long ago; succeeded still pending after a failed try.
  event.run(1, 1, 'queued', at(deployed, { state: 'queued', attempts: 0, startedAt: null, finishedAt: null, result: null }), T0, T0 + 1, 0, null);
  event.run(2, 1, 'running', at(deployed, { state: 'running', finishedAt: null, result: null, leaseExpiresAt: T0 + 60_000 }), T0, T0 + 2, 0, null);
  event.run(3, 1, 'succeeded', at(deployed, {}), T0 + 42_000, null, 1, '503 Service Unavailable');
  // Job 2 (a Discord job): its end is pending.
  event.run(4, 2, 'failed', at(failed, {}), T0 + 1_000, null, 0, null);
  // A newer event that was deleted: its id must never be handed out again.
  event.run(9, 2, 'failed', at(failed, {}), T0 + 1_000, T0 + 2_000, 0, null);
  raw.prepare(`DELETE FROM job_events WHERE id = 9`).run();
  raw.close();
}

test('old-shape events → small rows: ids, delivery state and attempts kept; the job copies gone; the index serves the per-adapter read', (t) => {
  const file = tempDbFile(t);
  oldDatabase(file);
  const store = openStore(t, file);
  const db = store.db;

  const columns = (db.prepare(`SELECT name FROM pragma_table_info('job_events')`).all() as Array<{ name: string }>).map((c) => c.name);
  assert.ok(!columns.includes('job'), 'no copy of the job');
  assert.deepEqual(
    db.prepare(`SELECT id, job_id, type, adapter, state, title, delivered_at, attempts, last_error FROM job_events ORDER BY id`).all(),
    [
      // Delivered: what they were and where they went; their title is the kind (never shown again).
      { id: 1, job_id: 1, type: 'queued', adapter: 'shell', state: 'queued', title: 'deploy', delivered_at: T0 + 1, attempts: 0, last_error: null },
      { id: 2, job_id: 1, type: 'running', adapter: 'shell', state: 'running', title: 'deploy', delivered_at: T0 + 2, attempts: 0, last_error: null },
      { id: 3, job_id: 1, type: 'succeeded', adapter: 'shell', state: 'succeeded', title: 'Deploy web ×3 (thin) from base on local', delivered_at: null, attempts: 1, last_error: '503 Service Unavailable' },
      { id: 4, job_id: 2, type: 'failed', adapter: 'discord', state: 'failed', title: 'Start db on local', delivered_at: null, attempts: 0, last_error: null },
    ],
  );

  assert.deepEqual(
    db.prepare(`SELECT * FROM job_events WHERE id IN (2, 4) ORDER BY id`).all(),
    [
      {
        ...{ id: 2, job_id: 1, type: 'running', adapter: 'shell', guild_id: null, channel_id: 'ops', kind: 'deploy', state: 'running', title: 'deploy' },
        ...{ requester_id: '100', requester_name: 'alice', job_attempts: 1, max_attempts: 3, recovered: 0, cancel_requested: 0, run_at: T0 },
        ...{ started_at: T0, finished_at: null, progress_step: null, progress_fraction: null, result: null, error_code: null, error_message: null },
        ...{ created_at: T0, delivered_at: T0 + 2, attempts: 0, last_error: null },
      },
      {
        ...{ id: 4, job_id: 2, type: 'failed', adapter: 'discord', guild_id: 'g1', channel_id: 'c1', kind: 'vm.start', state: 'failed', title: 'Start db on local' },
        ...{ requester_id: '555', requester_name: 'bob', job_attempts: 1, max_attempts: 3, recovered: 0, cancel_requested: 0, run_at: T0 },
        ...{ started_at: T0, finished_at: T0 + 1_000, progress_step: null, progress_fraction: null, result: null, error_code: 'vm-not-found' },
        ...{ error_message: 'no VM named db on local', created_at: T0 + 1_000, delivered_at: null, attempts: 0, last_error: null },
      },
    ],
  );

  const plan = (sql: string, ...args: unknown[]) =>
    (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
  const perAdapter = plan(PENDING_SQL, 'shell', 0, 500);
  assert.match(perAdapter, /SEARCH e USING INDEX job_events_pending \(adapter=\? AND id>\?\)/, perAdapter);
  assert.doesNotMatch(perAdapter, /TEMP B-TREE|SCAN/, perAdapter);
  const ofJob = plan(PENDING_OF_JOB_SQL, 1, 0);
  assert.match(ofJob, /SEARCH e USING INDEX job_events_job \(job_id=\? AND id>\?\)/, ofJob);
  assert.doesNotMatch(ofJob, /TEMP B-TREE|SCAN/, ofJob);

  // AUTOINCREMENT goes on where the old table was (id 9 was handed out, then deleted).
  store.enqueue({ kind: 'vm.start', payload: { host: 'local', vm: 'new' }, requester: { id: '1', name: 'x' }, notify: { adapter: 'shell', guildId: null, channelId: 'ops' } });
  assert.equal((db.prepare(`SELECT max(id) AS id FROM job_events`).get() as { id: number }).id, 10);
});

test('events pending before the migration are delivered after it, drawn as before', async (t) => {
  const defer = deferrals(t);
  const file = tempDbFile(t);
  oldDatabase(file);
  const store = openStore(t, file);
  const shell = new RecordingSink(undefined, 'shell');
  const discord = new RecordingSink(undefined, 'discord');
  const n = new Notifier({ outbox: store.outbox, store, approvals: store.approvals, sinks: [shell, discord], logger: silentLogger, now: () => T0 + 50_000 });
  defer(() => n.stop());
  assert.equal(await n.flush(), 0, 'nothing left pending');

  assert.deepEqual(shell.edits.map((e) => [e.jobId, e.state]), [[1, 'succeeded']]);
  assert.deepEqual(shell.announces.map((v) => v.lines), [
    ['Job #1 · succeeded', 'Requested by alice', 'Duration: 42s', 'Result: 3 VMs: web-01, web-02, web-03 (thin, started)'],
  ]);
  assert.equal(shell.announces[0]!.title, 'Deploy web ×3 (thin) from base on local');
  assert.deepEqual([shell.announces[0]!.requestId, discord.announces[0]!.requestId], ['job-1', 'job-2'], 'the request id, from the job row');
  assert.deepEqual(discord.announces.map((v) => [v.jobId, v.title, v.requester, v.error, v.lines]), [
    [2, 'Start db on local', { id: '555', name: 'bob' }, { code: 'vm-not-found', message: 'no VM named db on local' }, [
      'Job #2 · failed',
      'Requested by bob',
      'Duration: 1.0s',
      'Error: vm-not-found — no VM named db on local',
    ]],
  ]);
  assert.equal(store.get(1)!.statusMessageId, shell.messagesOf(1)[0]);
});
