import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KvmopsError } from '../../src/domain/errors.js';
import type { JobEventType } from '../../src/jobs/types.js';
import { silentLogger } from '../../src/domain/logger.js';
import type { ExecutorContext } from '../../src/kinds/index.js';
import { Worker } from '../../src/worker/worker.js';
import { alice, freshStore, notify, snapshotCreate, vmStart } from '../jobs/helpers.js';
import { allExecutors, deferrals, namesOnlyHypervisor, sleep, untilAborted, waitFor } from './helpers.js';

const fastBackoff = { backoff: { baseMs: 20, capMs: 40 } };

function eventTypes(store: ReturnType<typeof freshStore>, jobId: number): JobEventType[] {
  return store.outbox
    .pending('shell', 10_000)
    .filter((e) => e.jobId === jobId)
    .map((e) => e.type);
}

test('a job runs and completes with its result; the executor sees the typed payload', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  const seen: unknown[] = [];
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    executors: allExecutors(async (payload: unknown, ctx: ExecutorContext) => {
      seen.push({ payload, host: ctx.host.name, recovered: ctx.recovered });
      return { snapshot: { name: 's1' } };
    }),
  });
  worker.start();
  defer(() => worker.stop({ graceMs: 0 }));
  const job = store.enqueue(snapshotCreate('vm1', 's1'));
  const done = await waitFor('succeeded', () => (store.get(job.id)?.state === 'succeeded' ? store.get(job.id) : undefined));
  assert.deepEqual(done.result, { snapshot: { name: 's1' } });
  assert.deepEqual(seen, [{ payload: { host: 'local', vm: 'vm1', name: 's1', kind: 'internal' }, host: 'local', recovered: false }]);
  assert.deepEqual(eventTypes(store, job.id).filter((e) => e !== 'progress'), ['queued', 'running', 'succeeded']);
  assert.equal(worker.latency.count, 1);
});

test('global concurrency and per-host limits hold', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  let now = 0;
  let max = 0;
  const perHost = new Map<string, number>();
  let maxPerHost = 0;
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(['a', 'b', 'c']),
    concurrency: 3,
    hostConcurrency: 1,
    executors: allExecutors(async (_p: unknown, ctx: ExecutorContext) => {
      now++;
      max = Math.max(max, now);
      perHost.set(ctx.host.name, (perHost.get(ctx.host.name) ?? 0) + 1);
      maxPerHost = Math.max(maxPerHost, perHost.get(ctx.host.name)!);
      await sleep(15 + Math.random() * 15);
      perHost.set(ctx.host.name, perHost.get(ctx.host.name)! - 1);
      now--;
      return null;
    }),
  });
  const ids: number[] = [];
  for (let i = 0; i < 18; i++) ids.push(store.enqueue(vmStart(`vm${i}`, ['a', 'b', 'c'][i % 3])).id);
  worker.start();
  defer(() => worker.stop({ graceMs: 0 }));
  await waitFor('all done', () => ids.every((id) => store.get(id)?.state === 'succeeded'));
  assert.equal(maxPerHost, 1, 'one running job per host');
  assert.equal(max, 3, 'three hosts × 1 = the global limit of 3, reached');

  // Global limit below the host limits.
  const store2 = freshStore(t);
  let running2 = 0;
  let max2 = 0;
  const w2 = new Worker({
    store: store2,
    hypervisor: namesOnlyHypervisor(),
    concurrency: 2,
    hostConcurrency: 10,
    executors: allExecutors(async () => {
      max2 = Math.max(max2, ++running2);
      await sleep(10);
      running2--;
      return null;
    }),
  });
  const ids2 = Array.from({ length: 10 }, (_, i) => store2.enqueue(vmStart(`vm${i}`)).id);
  w2.start();
  defer(() => w2.stop({ graceMs: 0 }));
  await waitFor('all done', () => ids2.every((id) => store2.get(id)?.state === 'succeeded'));
  assert.equal(max2, 2);
});

test('an idle worker wakes on enqueue, without waiting for its poll', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  const started: number[] = [];
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    safetyPollMs: 3_600_000,
    reapEveryMs: 3_600_000,
    executors: allExecutors(async (_p: unknown, ctx: ExecutorContext) => {
      started.push(ctx.job.id);
      return null;
    }),
  });
  worker.start();
  defer(() => worker.stop({ graceMs: 0 }));
  await sleep(20); // idle: the start-up claim found nothing
  const t0 = performance.now();
  const job = store.enqueue(vmStart('vm1'));
  await waitFor('started', () => started.includes(job.id), 2_000);
  t.diagnostic(`enqueue → executor start: ${(performance.now() - t0).toFixed(2)} ms`);
  // A job with the same lock key behind it starts when the first one finishes (the completion wakes the worker).
  const second = store.enqueue(snapshotCreate('vm1', 's'));
  await waitFor('second started', () => started.includes(second.id), 2_000);
  assert.deepEqual(started, [job.id, second.id]);
});

test('cancel of a running job aborts the executor signal and the job ends cancelled', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  let signal: AbortSignal | undefined;
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    executors: allExecutors(async (_p: unknown, ctx: ExecutorContext) => {
      signal = ctx.signal;
      return untilAborted(ctx.signal);
    }),
  });
  worker.start();
  defer(() => worker.stop({ graceMs: 0 }));
  const job = store.enqueue(vmStart('vm1'));
  await waitFor('running', () => signal);
  const outcome = store.requestCancel(job.id, alice);
  assert.equal(outcome.effect, 'stop-requested');
  const end = await waitFor('cancelled', () => (store.get(job.id)?.state === 'cancelled' ? store.get(job.id) : undefined));
  assert.equal(signal!.aborted, true);
  assert.equal(end.error?.code, 'aborted');
});

test('a cancel from another process is seen by the heartbeat', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  let signal: AbortSignal | undefined;
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    leaseMs: 300, // heartbeat every 100 ms
    executors: allExecutors(async (_p: unknown, ctx: ExecutorContext) => {
      signal = ctx.signal;
      return untilAborted(ctx.signal);
    }),
  });
  worker.start();
  defer(() => worker.stop({ graceMs: 0 }));
  const job = store.enqueue(vmStart('vm1'));
  await waitFor('running', () => signal);
  // Same DB, a store instance whose change listeners the worker does not hear: like another process.
  const { openJobStore } = await import('../../src/jobs/store.js');
  const other = openJobStore(store.db.name);
  defer(() => other.close());
  other.requestCancel(job.id, alice);
  await waitFor('cancelled', () => store.get(job.id)?.state === 'cancelled');
  assert.equal(signal!.aborted, true);
});

test('a transient error retries (recovered on the next attempt); a permanent one fails at once', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t, fastBackoff);
  const calls: Array<{ id: number; attempt: number; recovered: boolean }> = [];
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    executors: allExecutors(async (p: { vm: string }, ctx: ExecutorContext) => {
      calls.push({ id: ctx.job.id, attempt: ctx.job.attempt, recovered: ctx.recovered });
      if (p.vm === 'flaky' && ctx.job.attempt === 1) throw new KvmopsError('host-unreachable', 'connection refused');
      if (p.vm === 'missing') throw new KvmopsError('vm-not-found', 'no VM named missing');
      if (p.vm === 'buggy') throw new TypeError('undefined is not a function');
      return { ok: true };
    }),
  });
  worker.start();
  defer(() => worker.stop({ graceMs: 0 }));
  const flaky = store.enqueue(vmStart('flaky'));
  const missing = store.enqueue(vmStart('missing'));
  const buggy = store.enqueue(vmStart('buggy'));
  await waitFor('all final', () => [flaky, missing, buggy].every((j) => ['succeeded', 'failed'].includes(store.get(j.id)!.state)));

  const f = store.get(flaky.id)!;
  assert.equal(f.state, 'succeeded');
  assert.equal(f.attempts, 2);
  assert.deepEqual(
    calls.filter((c) => c.id === flaky.id).map((c) => c.recovered),
    [false, true],
  );
  assert.ok(eventTypes(store, flaky.id).includes('retrying'));

  const m = store.get(missing.id)!;
  assert.equal(m.state, 'failed');
  assert.equal(m.attempts, 1);
  assert.equal(m.error?.code, 'vm-not-found');

  const b = store.get(buggy.id)!;
  assert.equal(b.state, 'failed');
  assert.equal(b.error?.code, 'internal');
  assert.equal(calls.filter((c) => c.id === buggy.id).length, 1);
});

test('progress is coalesced: 200 steps → a few writes, the last one kept', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    progressIntervalMs: 100,
    executors: allExecutors(async (_p: unknown, ctx: ExecutorContext) => {
      for (let i = 1; i <= 200; i++) {
        ctx.progress({ step: 'copying vda', fraction: i / 200 });
        if (i % 20 === 0) await sleep(10);
      }
      return null;
    }),
  });
  worker.start();
  defer(() => worker.stop({ graceMs: 0 }));
  const job = store.enqueue(vmStart('vm1'));
  await waitFor('succeeded', () => store.get(job.id)?.state === 'succeeded');
  const progress = store.outbox.pending('shell', 10_000).filter((e) => e.jobId === job.id && e.type === 'progress');
  t.diagnostic(`${progress.length} progress writes for 200 steps`);
  assert.ok(progress.length >= 2 && progress.length <= 6, `${progress.length} progress writes`);
  assert.deepEqual(progress.at(-1)!.job.progress, { step: 'copying vda', fraction: 1 });
});

test('graceful stop releases an unfinished job; a new worker finishes it as recovered', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  let firstSignal: AbortSignal | undefined;
  const first = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    executors: allExecutors(async (_p: unknown, ctx: ExecutorContext) => {
      firstSignal = ctx.signal;
      return untilAborted(ctx.signal);
    }),
  });
  first.start();
  const job = store.enqueue(snapshotCreate('vm1', 's1'));
  await waitFor('running', () => firstSignal);
  const quick = store.enqueue(vmStart('vm2'));
  await waitFor('quick one claimed too', () => store.get(quick.id)?.state === 'running');
  await first.stop({ graceMs: 30, abortWaitMs: 1_000 });
  assert.equal(firstSignal!.aborted, true);
  const released = store.get(job.id)!;
  assert.equal(released.state, 'queued');
  assert.equal(released.recovered, true);
  assert.equal(released.attempts, 0, 'a release does not count as an attempt');

  const recoveredSeen: boolean[] = [];
  const second = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    executors: allExecutors(async (_p: unknown, ctx: ExecutorContext) => {
      recoveredSeen.push(ctx.recovered);
      return { done: ctx.job.id };
    }),
  });
  second.start();
  defer(() => second.stop({ graceMs: 0 }));
  await waitFor('finished', () => store.get(job.id)?.state === 'succeeded' && store.get(quick.id)?.state === 'succeeded');
  assert.deepEqual(recoveredSeen, [true, true]);
});

test('a job that fails once the stop began is handed back, not failed (the signal may have hit its program)', async (t) => {
  const store = freshStore(t);
  let failNow: ((e: Error) => void) | undefined;
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    logger: silentLogger,
    executors: allExecutors(() => new Promise((_, reject) => (failNow = reject))),
  });
  worker.start();
  const job = store.enqueue(vmStart('vm1'));
  await waitFor('running', () => failNow);
  const stopped = worker.stop({ graceMs: 5_000 });
  // What `virsh` killed by the SIGTERM a whole process group got looks like to the executor.
  failNow!(new KvmopsError('command-failed', 'virsh was killed by SIGTERM'));
  await stopped;
  const after = store.get(job.id)!;
  assert.deepEqual(
    { state: after.state, attempts: after.attempts, recovered: after.recovered, error: after.error },
    { state: 'queued', attempts: 0, recovered: true, error: null },
  );
});

test('stop waits for running jobs within the grace period', async (t) => {
  const store = freshStore(t);
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    executors: allExecutors(async () => {
      await sleep(80);
      return 'ok';
    }),
  });
  worker.start();
  const job = store.enqueue(vmStart('vm1'));
  await waitFor('running', () => store.get(job.id)?.state === 'running');
  await worker.stop({ graceMs: 5_000 });
  assert.equal(store.get(job.id)!.state, 'succeeded');
  // Stopped: a new job stays queued.
  const later = store.enqueue(vmStart('vm2'));
  await sleep(30);
  assert.equal(store.get(later.id)!.state, 'queued');
});

test('a worker that lost its lease aborts and never writes the job again', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  let signal: AbortSignal | undefined;
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    leaseMs: 150,
    reapEveryMs: 3_600_000,
    logger: silentLogger, // the lease loss is the point of this test
    executors: allExecutors(async (_p: unknown, ctx: ExecutorContext) => {
      signal = ctx.signal;
      try {
        return await untilAborted(ctx.signal);
      } finally {
        ctx.progress({ step: 'cleaning up after abort' });
      }
    }),
  });
  worker.start();
  defer(() => worker.stop({ graceMs: 0 }));
  const job = store.enqueue(vmStart('vm1'));
  await waitFor('running', () => signal);
  // Another process's reaper, with a clock far ahead: takes the job back.
  const reaped = store.reap(Date.now() + 60_000);
  assert.equal(reaped[0]?.state, 'queued');
  // The worker heard it through onChange (state queued → it may even reclaim it: then the token differs).
  await waitFor('aborted', () => signal!.aborted, 2_000);
  assert.equal((signal!.reason as KvmopsError).code, 'lease-lost');
  await sleep(50);
  const after = store.get(job.id)!;
  assert.notEqual(after.progress?.step, 'cleaning up after abort');
});

test('executor typing: every kind has exactly one executor', async () => {
  const { EXECUTORS, JOB_KINDS } = await import('../../src/kinds/index.js');
  assert.deepEqual(Object.keys(EXECUTORS).sort(), [...JOB_KINDS].sort());
  void notify;
});
