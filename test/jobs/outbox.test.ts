import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { bob, freshStore, snapshotRevert, vmStart } from './helpers.js';

test('every state change writes its event, carrying the job as it was then', (t) => {
  const store = freshStore(t);
  const job = store.enqueue(snapshotRevert('web', 's1'));
  store.approvals.decide(job.id, 'approve', bob);
  const { lease } = store.claim('w', 60_000)!;
  store.progress(lease, { step: 'reverting', fraction: 0.5 });
  store.complete(lease, { reverted: true });

  const events = store.outbox.pending(100);
  assert.deepEqual(
    events.map((e) => [e.type, e.job.state]),
    [
      ['awaiting_approval', 'awaiting_approval'],
      ['queued', 'queued'],
      ['running', 'running'],
      ['progress', 'running'],
      ['succeeded', 'succeeded'],
    ],
  );
  assert.deepEqual(events[3]?.job.progress, { step: 'reverting', fraction: 0.5 });
  assert.deepEqual(events[4]?.job.result, { reverted: true });
  assert.ok(events.every((e) => e.jobId === job.id && e.deliveredAt === null && e.attempts === 0));
});

test('a change that rolls back writes no event', (t) => {
  const store = freshStore(t);
  store.enqueue(vmStart('web'));
  const before = store.outbox.pending(100).length;
  assert.throws(() => store.enqueue(vmStart('web')), (e: unknown) => isKvmopsError(e, 'duplicate-job'));
  assert.throws(() => store.requestCancel(4242, bob));
  // A failure after the event was written inside the same transaction undoes both.
  const explode = store.db.transaction(() => {
    store.enqueue(vmStart('db'));
    throw new Error('crash after the write');
  });
  assert.throws(() => explode(), /crash after the write/);
  assert.equal(store.outbox.pending(100).length, before);
  assert.equal(store.list().length, 1);
});

test('pending is oldest first and limited; delivered events leave it; failed attempts are counted', (t) => {
  const store = freshStore(t);
  for (const vm of ['a', 'b', 'c']) store.enqueue(vmStart(vm));
  const [first, second, third] = store.outbox.pending(10);
  assert.ok(first && second && third && first.id < second.id && second.id < third.id);
  assert.deepEqual(store.outbox.pending(2).map((e) => e.id), [first.id, second.id]);

  store.outbox.markAttemptFailed(first.id, 'discord: 503');
  store.outbox.markAttemptFailed(first.id, 'discord: 503 again');
  const retried = store.outbox.pending(1)[0]!;
  assert.deepEqual([retried.id, retried.attempts, retried.lastError], [first.id, 2, 'discord: 503 again']);

  store.outbox.markDelivered(first.id);
  store.outbox.markDelivered(first.id);
  assert.deepEqual(store.outbox.pending(10).map((e) => e.id), [second.id, third.id]);
  assert.throws(() => store.outbox.markDelivered(99_999), (e: unknown) => isKvmopsError(e, 'invalid-input'));
});

test('audit records every invocation, refusals included, newest first', (t) => {
  const store = freshStore(t);
  store.audit.record({ at: 1, userId: '1', userName: 'alice', command: 'vm start', options: { vm: 'web' }, outcome: 'accepted', jobId: 7 });
  store.audit.record({ at: 2, userId: '2', userName: 'eve', command: 'vm delete', options: { vm: 'db' }, outcome: 'refused', code: 'forbidden' });
  assert.deepEqual(store.audit.list(10), [
    { at: 2, userId: '2', userName: 'eve', command: 'vm delete', options: { vm: 'db' }, outcome: 'refused', code: 'forbidden' },
    { at: 1, userId: '1', userName: 'alice', command: 'vm start', options: { vm: 'web' }, outcome: 'accepted', jobId: 7 },
  ]);
  assert.equal(store.audit.list(1).length, 1);
});
