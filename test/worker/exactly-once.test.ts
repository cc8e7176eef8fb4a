import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KvmopsError } from '../../src/domain/errors.js';
import type { RevertRequest, RevertResult } from '../../src/hypervisor/types.js';
import type { JobEventType } from '../../src/jobs/types.js';
import { silentLogger, type Logger } from '../../src/domain/logger.js';
import { Worker } from '../../src/worker/worker.js';
import { EVENT_LOOP_GAP_BOUND_MS, LOCK_MS, holdWriteLock, maxTickGap, type WriteLock } from '../jobs/db-lock.js';
import { bob, freshStore, openStore, snapshotRevert, tempDbFile, vmStart } from '../jobs/helpers.js';
import { allExecutors, deferrals, namesOnlyHypervisor, sleep, waitFor } from './helpers.js';

/**
 * Exactly once, for real: finished work is never run again because its result could not be
 * written in time. The database is locked by ANOTHER PROCESS (BEGIN IMMEDIATE) for LOCK_MS
 * (longer than the leases here; a synchronous wait for it would show as a blocked event loop),
 * or full; the worker keeps the outcome, keeps its lease, retries on timers — and its event
 * loop keeps ticking.
 */

/** A host whose revertSnapshot records each request and answers what `answer` says. */
function revertingHost(answer: (req: RevertRequest, call: number) => Promise<RevertResult>) {
  const calls: RevertRequest[] = [];
  const hypervisor = namesOnlyHypervisor(['local'], {
    revertSnapshot: (req: RevertRequest) => {
      calls.push(req);
      return answer(req, calls.length);
    },
  });
  return { calls, hypervisor };
}

/** Warnings, kept: the worker says when a final write had to wait. */
function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { ...silentLogger, warnings, warn: (_obj, msg) => warnings.push(msg ?? '') };
}

function types(store: ReturnType<typeof freshStore>, jobId: number): JobEventType[] {
  return store.outbox.pending('shell', 10_000).filter((e) => e.jobId === jobId && e.type !== 'progress').map((e) => e.type);
}

test("an approved revert whose success write meets another process's lock runs once and ends succeeded after the release; the event loop stays free", async (t) => {
  const defer = deferrals(t);
  const file = tempDbFile(t);
  const store = openStore(t, file);
  let lock: WriteLock | undefined;
  let lockTaken!: () => void;
  const locked = new Promise<void>((r) => (lockTaken = r));
  // The revert "happens", then — before the worker can write that — another process locks the database.
  const { calls, hypervisor } = revertingHost(async () => {
    lock = await holdWriteLock(file, t);
    lockTaken();
    return { alreadyApplied: false };
  });
  const log = recordingLogger();
  // A lease shorter than the lock: it runs out while the heartbeat cannot land either.
  const leaseMs = LOCK_MS / 5;
  const worker = new Worker({ store, hypervisor, leaseMs, logger: log });
  const job = store.enqueue(snapshotRevert('web', 'before-upgrade'));
  store.approvals.decide(job.id, 'approve', bob);
  worker.start();
  defer(() => worker.stop({ graceMs: 0 }));

  await locked;
  const { maxGapMs } = await maxTickGap(async () => {
    await sleep(LOCK_MS);
    assert.equal(store.get(job.id)?.state, 'running', 'not written while the lock is held');
    await lock!.release();
    await waitFor('succeeded', () => store.get(job.id)?.state === 'succeeded', 10_000);
  });
  t.diagnostic(`longest event-loop gap while locked: ${maxGapMs.toFixed(1)} ms`);
  assert.ok(maxGapMs < EVENT_LOOP_GAP_BOUND_MS, `the event loop was blocked for ${maxGapMs.toFixed(0)} ms`);
  assert.ok(log.warnings.some((w) => /database busy: "job succeeded" not written yet/.test(w)), log.warnings.join(' | '));

  // Long enough for a reaper to take back an expired lease, and for a re-run to start.
  await sleep(leaseMs * 2);
  assert.equal(calls.length, 1, 'the revert ran exactly once');
  const done = store.get(job.id)!;
  assert.equal(done.state, 'succeeded');
  assert.equal(done.attempts, 1);
  assert.deepEqual(done.result, { reverted: { vm: 'web', snapshot: 'before-upgrade' } });
  assert.deepEqual(types(store, job.id), ['awaiting_approval', 'queued', 'running', 'succeeded']);
});

test('the revert asks the host under the job\'s request id, the same on every attempt, and reports "already applied"', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t, { backoff: { baseMs: 20, capMs: 40 } });
  // Attempt 1: the host reverted, then the connection dropped before it could answer.
  const { calls, hypervisor } = revertingHost(async (_req, call) => {
    if (call === 1) throw new KvmopsError('host-unreachable', 'the connection dropped after the revert');
    return { alreadyApplied: true };
  });
  const worker = new Worker({ store, hypervisor, logger: silentLogger });
  const job = store.enqueue({ ...snapshotRevert('web', 's1'), needsApproval: false });
  worker.start();
  defer(() => worker.stop({ graceMs: 0 }));
  await waitFor('succeeded', () => store.get(job.id)?.state === 'succeeded');
  assert.deepEqual(
    calls.map((c) => c.requestId),
    [job.requestId, job.requestId],
    'the same request id on both attempts',
  );
  assert.deepEqual(calls.map((c) => [c.vm, c.name]), [['web', 's1'], ['web', 's1']]);
  const done = store.get(job.id)!;
  assert.equal(done.attempts, 2);
  assert.deepEqual(done.result, { reverted: { vm: 'web', snapshot: 's1' }, alreadyApplied: true });
});

test('a full database at the success write (max_page_count): retried until there is room; the executor ran once', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  let runs = 0;
  const log = recordingLogger();
  const leaseMs = 200;
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    leaseMs,
    logger: log,
    executors: allExecutors(async () => {
      runs++;
      // The disk fills up while the work is being done.
      store.db.pragma(`max_page_count = ${store.db.pragma('page_count', { simple: true }) as number}`);
      return { log: 'x'.repeat(256 * 1024) };
    }),
  });
  const job = store.enqueue(vmStart('web'));
  worker.start();
  defer(() => worker.stop({ graceMs: 0 }));
  await waitFor('the executor to run', () => runs === 1);
  await sleep(leaseMs * 3); // past the lease: nothing may run it again meanwhile
  assert.equal(runs, 1, 'not run again while its result waits for room');
  assert.equal(store.get(job.id)?.state, 'running');
  assert.ok(log.warnings.some((w) => /database busy: "job succeeded" not written yet/.test(w)), log.warnings.join(' | '));
  store.db.pragma('max_page_count = 1073741823');
  await waitFor('succeeded', () => store.get(job.id)?.state === 'succeeded');
  await sleep(leaseMs * 2);
  assert.equal(runs, 1, 'the executor ran once');
  assert.equal(store.get(job.id)?.attempts, 1);
  assert.equal((store.get(job.id)?.result as { log: string }).log.length, 256 * 1024);
});

test("a claim meeting another process's lock is tried again soon after the release, not at the next poll", async (t) => {
  const defer = deferrals(t);
  const file = tempDbFile(t);
  const store = openStore(t, file);
  const started: number[] = [];
  const job = store.enqueue(vmStart('web'));
  const lock = await holdWriteLock(file, t);
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    safetyPollMs: 3_600_000,
    logger: silentLogger,
    executors: allExecutors(async (_p: unknown, ctx: { job: { id: number } }) => {
      started.push(ctx.job.id);
      return null;
    }),
  });
  const { maxGapMs } = await maxTickGap(async () => {
    worker.start(); // its start-up reap and claim meet the lock
    defer(() => worker.stop({ graceMs: 0 }));
    await sleep(LOCK_MS);
    assert.deepEqual(started, []);
    await lock.release();
    await waitFor('the job to run', () => store.get(job.id)?.state === 'succeeded', 10_000);
  });
  assert.deepEqual(started, [job.id]);
  assert.ok(maxGapMs < EVENT_LOOP_GAP_BOUND_MS, `the event loop was blocked for ${maxGapMs.toFixed(0)} ms`);
});
