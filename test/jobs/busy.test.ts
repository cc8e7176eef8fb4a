import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { retryWhileBusy } from '../../src/jobs/retry.js';
import { EVENT_LOOP_GAP_BOUND_MS, LOCK_MS, holdWriteLock, maxTickGap } from './db-lock.js';
import { alice, freshStore, openStore, snapshotCreate, snapshotRevert, tempDbFile, vmStart } from './helpers.js';

/**
 * A database another process holds locked (or that is full) is a transient condition: every
 * write fails at once with `db-busy` — nothing written, nothing blocked — and the async retry
 * lands it once the lock is gone.
 */

const busy = (sqlite: RegExp) => (e: unknown) =>
  isKvmopsError(e, 'db-busy') && e.transient && sqlite.test(String(e.details.sqlite)) && (e.cause as { code?: string }).code === e.details.sqlite;

test("every write meeting another process's write lock fails at once with db-busy, writes nothing; reads go on", async (t) => {
  const file = tempDbFile(t);
  const store = openStore(t, file);
  const running = store.enqueue(vmStart('web'));
  const { lease } = store.claim('w', 60_000)!;
  const waiting = store.enqueue(snapshotRevert('db', 's1'));
  const [event] = store.outbox.pending('shell', 1);
  const before = store.list({ limit: 100 });

  const lock = await holdWriteLock(file, t);
  const { maxGapMs } = await maxTickGap(async () => {
    const isBusy = busy(/^SQLITE_BUSY/);
    assert.throws(() => store.enqueue(vmStart('other')), isBusy, 'enqueue');
    assert.throws(() => store.claim('w', 60_000), isBusy, 'claim');
    assert.throws(() => store.heartbeat(lease, 60_000), isBusy, 'heartbeat');
    assert.throws(() => store.progress(lease, { step: 'x' }), isBusy, 'progress');
    assert.throws(() => store.complete(lease, { ok: true }), isBusy, 'complete');
    assert.throws(() => store.fail(lease, { code: 'host-unreachable', message: 'x' }, { retry: true }), isBusy, 'fail');
    assert.throws(() => store.release(lease), isBusy, 'release');
    assert.throws(() => store.reap(), isBusy, 'reap');
    assert.throws(() => store.requestCancel(running.id, alice), isBusy, 'requestCancel');
    assert.throws(() => store.setStatusMessage(running.id, 'm1'), isBusy, 'setStatusMessage');
    assert.throws(() => store.approvals.decide(waiting.id, 'approve', { id: '200', name: 'bob' }), isBusy, 'decide');
    assert.throws(() => store.approvals.attachMessage(waiting.id, { adapter: 'shell', channelId: 'ops', messageId: 'm2' }), isBusy, 'attachMessage');
    assert.throws(() => store.outbox.markDelivered(event!.id), isBusy, 'markDelivered');
    assert.throws(() => store.audit.record({ at: 1, userId: 'u', userName: 'u', command: 'job list', options: {}, outcome: 'read' }), isBusy, 'audit');
    // WAL: the lock holds writers back, never readers.
    assert.deepEqual(store.list({ limit: 100 }), before);
    assert.equal(store.approvals.get(waiting.id)?.state, 'pending');
  });
  t.diagnostic(`14 refused writes, longest event-loop gap ${maxGapMs.toFixed(1)} ms`);
  assert.ok(maxGapMs < EVENT_LOOP_GAP_BOUND_MS, `the event loop was blocked for ${maxGapMs.toFixed(0)} ms`);
  await lock.release();

  assert.deepEqual(store.list({ limit: 100 }), before, 'nothing was written');
  assert.equal(store.complete(lease, { ok: true }).state, 'succeeded', 'the lease still holds: the refused writes changed nothing');
});

test('a full database (max_page_count reached) is db-busy too, and the result lands once there is room', (t) => {
  const store = freshStore(t);
  store.enqueue(snapshotCreate('web', 's1'));
  const { lease } = store.claim('w', 60_000)!;
  const pages = store.db.pragma('page_count', { simple: true }) as number;
  store.db.pragma(`max_page_count = ${pages}`);
  const big = { log: 'x'.repeat(256 * 1024) };
  assert.throws(() => store.complete(lease, big), busy(/^SQLITE_FULL/));
  assert.equal(store.get(lease.jobId)?.state, 'running', 'rolled back: still running, still ours');
  store.db.pragma(`max_page_count = ${pages * 1000}`);
  const done = store.complete(lease, big);
  assert.equal(done.state, 'succeeded');
  assert.equal((done.result as typeof big).log.length, big.log.length);
});

test("retryWhileBusy: waits out another process's lock without blocking (LOCK_MS: a synchronous wait would show), then the write lands once", async (t) => {
  const file = tempDbFile(t);
  const store = openStore(t, file);
  store.enqueue(snapshotCreate('web', 's1'));
  const { lease } = store.claim('w', 60_000)!;
  const lock = await holdWriteLock(file, t);
  const released = lock.releaseAfter(LOCK_MS);
  let calls = 0;
  let retries = 0;
  const { value: job, maxGapMs } = await maxTickGap(() =>
    retryWhileBusy(
      () => {
        calls++;
        return store.complete(lease, { ok: true });
      },
      { onRetry: () => retries++ },
    ),
  );
  await released;
  t.diagnostic(`${calls} tries over ${LOCK_MS} ms; longest event-loop gap ${maxGapMs.toFixed(1)} ms`);
  assert.equal(job.state, 'succeeded');
  assert.equal(retries, calls - 1);
  assert.ok(calls > 1, 'it met the lock');
  assert.ok(maxGapMs < EVENT_LOOP_GAP_BOUND_MS, `the event loop was blocked for ${maxGapMs.toFixed(0)} ms`);
  assert.deepEqual(
    store.outbox.pending('shell', 100).filter((e) => e.type === 'succeeded').map((e) => e.jobId),
    [lease.jobId],
    'one succeeded event: written once',
  );
});

test('retryWhileBusy: gives up after maxWaitMs with db-busy; any other error is thrown at once; a signal stops it', async (t) => {
  const file = tempDbFile(t);
  const store = openStore(t, file);
  await holdWriteLock(file, t);
  let calls = 0;
  await assert.rejects(
    retryWhileBusy(
      () => {
        calls++;
        return store.enqueue(vmStart('web'));
      },
      { maxWaitMs: 200 },
    ),
    busy(/^SQLITE_BUSY/),
  );
  assert.ok(calls > 1);

  calls = 0;
  await assert.rejects(
    retryWhileBusy(() => {
      calls++;
      throw new Error('not a database error');
    }),
    /not a database error/,
  );
  assert.equal(calls, 1);

  const stop = new AbortController();
  setTimeout(() => stop.abort(), 100);
  await assert.rejects(retryWhileBusy(() => store.enqueue(vmStart('web')), { signal: stop.signal }), { name: 'AbortError' });
  assert.equal(store.list().length, 0);
});
