import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { Clock, alice, freshStore, snapshotCreate } from './helpers.js';

const leaseLost = (e: unknown) => isKvmopsError(e, 'lease-lost');

test('a stale lease holder cannot heartbeat, progress, complete, fail or release after a reap', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: clock.now });
  const { id } = store.enqueue(snapshotCreate('web', 's1'));

  const first = store.claim('worker-a', 10_000)!;
  assert.equal(first.job.attempts, 1);
  clock.advance(10_001);
  const [reaped] = store.reap();
  assert.equal(reaped?.id, id);
  assert.equal(reaped?.state, 'queued');
  assert.equal(reaped?.recovered, true);
  assert.equal(reaped?.error?.code, 'lease-lost');

  // Taken back but not re-claimed yet: the old holder is already out.
  assert.throws(() => store.heartbeat(first.lease, 10_000), leaseLost);

  const second = store.claim('worker-b', 10_000)!;
  assert.equal(second.job.id, id);
  assert.ok(second.lease.token > first.lease.token, 'a new fencing token');
  assert.equal(second.job.attempts, 2);
  assert.equal(second.job.recovered, true, 'the executor is told to check real state');

  assert.throws(() => store.heartbeat(first.lease, 10_000), leaseLost);
  assert.throws(() => store.progress(first.lease, { step: 'x' }), leaseLost);
  assert.throws(() => store.complete(first.lease, 'stale'), leaseLost);
  assert.throws(() => store.fail(first.lease, { code: 'command-failed', message: 'x' }, { retry: false }), leaseLost);
  assert.throws(() => store.release(first.lease), leaseLost);
  assert.throws(() => store.cancelRunning(first.lease, 'x'), leaseLost);
  // Same owner name, old token: still refused (the token fences, not the name).
  assert.throws(() => store.complete({ ...second.lease, token: first.lease.token }, 'stale'), leaseLost);

  const done = store.complete(second.lease, { ok: true });
  assert.equal(done.state, 'succeeded');
  assert.deepEqual(done.result, { ok: true });
  assert.throws(() => store.complete(second.lease, 'twice'), leaseLost, 'finished: nobody holds it any more');
});

test('a result written after the reaper took the job back still lands (the work is done) — unless someone re-claimed it since', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: clock.now });
  const { id } = store.enqueue(snapshotCreate('web', 's1'));
  const { lease } = store.claim('worker-a', 10_000)!;
  // The database was locked past the lease: the holder could neither heartbeat nor complete.
  clock.advance(10_001);
  assert.equal(store.reap()[0]?.state, 'queued');

  const done = store.complete(lease, { snapshot: 's1' });
  assert.equal(done.state, 'succeeded');
  assert.deepEqual(done.result, { snapshot: 's1' });
  assert.equal(done.error, null);
  assert.equal(store.claim('worker-b', 10_000), undefined, 'nothing left to run again');
  const events = store.outbox.pending('shell', 100).filter((e) => e.jobId === id).map((e) => e.type);
  assert.deepEqual(events, ['queued', 'running', 'retrying', 'succeeded']);

  // But once another worker re-claimed it, the old holder's result is refused and overwrites nothing.
  store.enqueue(snapshotCreate('web', 's2'));
  const first = store.claim('worker-a', 10_000)!;
  clock.advance(10_001);
  store.reap();
  const second = store.claim('worker-b', 10_000)!;
  assert.throws(() => store.complete(first.lease, 'stale'), leaseLost);
  const job = store.get(second.job.id)!;
  assert.equal(job.state, 'running');
  assert.equal(job.leaseOwner, 'worker-b');
  assert.equal(job.result, null);
  // Re-claimed after a reap by the very same owner name: the token still fences.
  clock.advance(10_001);
  store.reap();
  const third = store.claim('worker-a', 10_000)!;
  assert.throws(() => store.complete(first.lease, 'stale'), leaseLost);
  assert.throws(() => store.complete(second.lease, 'stale'), leaseLost);
  assert.equal(store.complete(third.lease, 'fresh').state, 'succeeded');
});

test('heartbeat extends the lease so the reaper leaves the job alone', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: clock.now });
  store.enqueue(snapshotCreate('web', 's1'));
  const { lease } = store.claim('w', 10_000)!;
  for (let i = 0; i < 5; i++) {
    clock.advance(8_000);
    assert.deepEqual(store.heartbeat(lease, 10_000), { cancelRequested: false });
    assert.deepEqual(store.reap(), []);
  }
  assert.equal(store.get(lease.jobId)?.leaseExpiresAt, clock.t + 10_000);
});

test('reap fails a job whose attempts are used up, and cancels one whose cancel was requested', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: clock.now });
  const a = store.enqueue({ ...snapshotCreate('a', 's'), maxAttempts: 1 });
  const b = store.enqueue(snapshotCreate('b', 's'));
  store.claim('w', 1_000);
  store.claim('w', 1_000);
  store.requestCancel(b.id, alice);
  clock.advance(1_001);
  const reaped = store.reap();
  assert.deepEqual(
    reaped.map((j) => [j.id, j.state, j.error?.code]),
    [
      [a.id, 'failed', 'lease-lost'],
      [b.id, 'cancelled', 'aborted'],
    ],
  );
});

test('release gives the job back without using an attempt', (t) => {
  const store = freshStore(t);
  const { id } = store.enqueue({ ...snapshotCreate('web', 's1'), maxAttempts: 1 });
  const first = store.claim('w', 60_000)!;
  const released = store.release(first.lease);
  assert.equal(released.state, 'queued');
  assert.equal(released.attempts, 0);
  assert.equal(released.recovered, true);
  const second = store.claim('w', 60_000)!;
  assert.equal(second.job.id, id);
  assert.equal(second.job.attempts, 1);
});

test('progress is stored on the job and cleared by the next claim', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: clock.now, random: () => 0 });
  store.enqueue(snapshotCreate('web', 's1'));
  const { lease } = store.claim('w', 60_000)!;
  store.progress(lease, { step: 'copying disk', fraction: 0.5 });
  assert.deepEqual(store.get(lease.jobId)?.progress, { step: 'copying disk', fraction: 0.5 });
  store.fail(lease, { code: 'host-unreachable', message: 'ssh: timeout' }, { retry: true });
  clock.advance(60_000);
  const again = store.claim('w', 60_000)!;
  assert.equal(again.job.progress, null);
});
