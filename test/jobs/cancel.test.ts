import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { bob, freshStore, snapshotRevert, vmStart } from './helpers.js';

test('cancelling a queued job cancels it at once', (t) => {
  const store = freshStore(t);
  const job = store.enqueue(vmStart('web'));
  const out = store.requestCancel(job.id, bob);
  assert.equal(out.effect, 'cancelled');
  assert.equal(out.job.state, 'cancelled');
  assert.deepEqual(out.job.error, { code: 'aborted', message: 'cancelled by bob' });
  assert.equal(store.claim('w', 60_000), undefined);
});

test('cancelling a job awaiting approval cancels it and closes its approval as cancelled', (t) => {
  const store = freshStore(t);
  const job = store.enqueue(snapshotRevert('web', 's1'));
  assert.equal(store.requestCancel(job.id, bob).effect, 'cancelled');
  const approval = store.approvals.get(job.id)!;
  assert.equal(approval.state, 'cancelled');
  assert.equal(approval.decidedBy, bob.id);
  assert.throws(() => store.approvals.decide(job.id, 'approve', bob), (e: unknown) => isKvmopsError(e, 'already-decided'));
});

test('cancelling a running job asks it to stop; the worker sees it at its heartbeat and reports it', (t) => {
  const store = freshStore(t);
  const job = store.enqueue(vmStart('web'));
  const { lease } = store.claim('w', 60_000)!;
  const out = store.requestCancel(job.id, bob);
  assert.equal(out.effect, 'stop-requested');
  assert.equal(out.job.state, 'running');
  assert.equal(out.job.cancelRequested, true);
  assert.equal(store.requestCancel(job.id, bob).effect, 'stop-requested', 'asking twice is fine');
  assert.equal(store.outbox.pending('shell', 100).filter((e) => e.type === 'cancel_requested').length, 1, 'one event');

  assert.deepEqual(store.heartbeat(lease, 60_000), { cancelRequested: true });
  const cancelled = store.cancelRunning(lease, 'stopped by request; clone removed');
  assert.equal(cancelled.state, 'cancelled');
  assert.equal(cancelled.error?.message, 'stopped by request; clone removed');
});

test('a job asked to stop is not retried nor given back', (t) => {
  const store = freshStore(t);
  const a = store.enqueue(vmStart('a'));
  const b = store.enqueue(vmStart('b'));
  const la = store.claim('w', 60_000)!.lease;
  const lb = store.claim('w', 60_000)!.lease;
  store.requestCancel(a.id, bob);
  store.requestCancel(b.id, bob);
  assert.equal(store.fail(la, { code: 'host-unreachable', message: 'x' }, { retry: true }).state, 'failed');
  assert.equal(store.release(lb).state, 'cancelled');
});

test('finished jobs are not cancellable; unknown ids are not found', (t) => {
  const store = freshStore(t);
  const job = store.enqueue(vmStart('web'));
  store.complete(store.claim('w', 60_000)!.lease, null);
  assert.throws(
    () => store.requestCancel(job.id, bob),
    (e: unknown) => isKvmopsError(e, 'not-cancellable') && e.details.state === 'succeeded',
  );
  assert.throws(() => store.requestCancel(9999, bob), (e: unknown) => isKvmopsError(e, 'job-not-found'));
});
