import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { Clock, alice, bob, freshStore, snapshotCreate, snapshotRevert } from './helpers.js';

/** Batches (migration 010): one job per VM, one transaction, one approval. */

test('a batch is enqueued together: the lead id is every job batchId, read back lead first', (t) => {
  const store = freshStore(t);
  const before = store.enqueue(snapshotCreate('other', 's1'));
  const jobs = store.enqueueBatch(['web-01', 'web-02', 'web-03'].map((vm) => snapshotCreate(vm, 'before-patch')));
  assert.equal(before.batchId, null);
  assert.equal(store.get(before.id)!.batchId, null);
  const lead = jobs[0]!.id;
  assert.deepEqual(jobs.map((j) => j.batchId), [lead, lead, lead]);
  assert.deepEqual(store.batch(lead).map((j) => [j.payload.vm, j.state, j.batchId]), [
    ['web-01', 'queued', lead],
    ['web-02', 'queued', lead],
    ['web-03', 'queued', lead],
  ]);
  assert.deepEqual(store.batch(before.id), []);
});

test('all or none: one refused job (a live duplicate) leaves no job of the batch', (t) => {
  const store = freshStore(t);
  const live = store.enqueue(snapshotCreate('web-02', 'before-patch'));
  assert.throws(
    () => store.enqueueBatch(['web-01', 'web-02', 'web-03'].map((vm) => snapshotCreate(vm, 'before-patch'))),
    (e: unknown) => isKvmopsError(e, 'duplicate-job') && e.details.jobId === live.id,
  );
  assert.deepEqual(store.list().map((j) => j.id), [live.id]);
  // The outbox holds the one live job's event only.
  assert.deepEqual(store.outbox.pending('shell', 50).map((e) => e.jobId), [live.id]);
});

test('one approval decides a batch: approving any job queues them all', (t) => {
  const store = freshStore(t);
  const jobs = store.enqueueBatch(['a', 'b', 'c'].map((vm) => snapshotRevert(vm, 'before-patch')));
  assert.deepEqual(jobs.map((j) => j.state), ['awaiting_approval', 'awaiting_approval', 'awaiting_approval']);
  const out = store.approvals.decide(jobs[1]!.id, 'approve', bob);
  assert.equal(out.job.state, 'queued');
  assert.deepEqual(out.batch?.map((j) => [j.id, j.state]), [
    [jobs[0]!.id, 'queued'],
    [jobs[2]!.id, 'queued'],
  ]);
  assert.deepEqual(jobs.map((j) => store.approvals.get(j.id)!.state), ['approved', 'approved', 'approved']);
  assert.throws(() => store.approvals.decide(jobs[0]!.id, 'reject', bob), (e: unknown) => isKvmopsError(e, 'already-decided'));
});

test('rejecting cancels them all; withdrawing one awaiting job withdraws the batch', (t) => {
  const store = freshStore(t);
  const rejected = store.enqueueBatch(['a', 'b'].map((vm) => snapshotRevert(vm, 'x')));
  store.approvals.decide(rejected[0]!.id, 'reject', bob);
  assert.deepEqual(store.batch(rejected[0]!.id).map((j) => [j.state, j.error?.message]), [
    ['cancelled', 'rejected by bob'],
    ['cancelled', 'rejected by bob'],
  ]);
  const withdrawn = store.enqueueBatch(['c', 'd', 'e'].map((vm) => snapshotRevert(vm, 'x')));
  const out = store.requestCancel(withdrawn[2]!.id, alice);
  assert.equal(out.effect, 'cancelled');
  assert.deepEqual(store.batch(withdrawn[0]!.id).map((j) => j.state), ['cancelled', 'cancelled', 'cancelled']);
  assert.deepEqual(withdrawn.map((j) => store.approvals.get(j.id)!.state), ['cancelled', 'cancelled', 'cancelled']);
});

test('a batch expires together; a queued job of a batch is cancelled alone', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: clock.now });
  const jobs = store.enqueueBatch(['a', 'b'].map((vm) => snapshotRevert(vm, 'x', { approvalTtlMs: 60_000 })));
  clock.advance(60_000);
  assert.throws(() => store.approvals.decide(jobs[0]!.id, 'approve', bob), (e: unknown) => isKvmopsError(e, 'already-decided'));
  assert.deepEqual(store.batch(jobs[0]!.id).map((j) => [j.state, j.error?.message]), [
    ['cancelled', 'approval expired'],
    ['cancelled', 'approval expired'],
  ]);
  const queued = store.enqueueBatch(['a', 'b'].map((vm) => snapshotCreate(vm, 'y')));
  store.requestCancel(queued[0]!.id, alice);
  assert.deepEqual(store.batch(queued[0]!.id).map((j) => j.state), ['cancelled', 'queued']);
});
