import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { Clock, alice, bob, freshStore, openStore, snapshotRevert, tempDbFile } from './helpers.js';

const decided = (state: string) => (e: unknown) => isKvmopsError(e, 'already-decided') && e.details.state === state;

test('a destructive kind waits for approval with a pending approval row and its expiry', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: clock.now });
  const job = store.enqueue({ ...snapshotRevert('web', 's1'), approvalTtlMs: 60_000 });
  assert.equal(job.state, 'awaiting_approval');
  assert.equal(store.claim('w', 60_000), undefined, 'not claimable while waiting');
  const approval = store.approvals.get(job.id)!;
  assert.deepEqual(
    { state: approval.state, requesterId: approval.requesterId, expiresAt: approval.expiresAt, messageId: approval.messageId },
    { state: 'pending', requesterId: alice.id, expiresAt: clock.t + 60_000, messageId: null },
  );
});

test('approve queues the job; a second decision is already-decided', (t) => {
  const store = freshStore(t);
  const job = store.enqueue(snapshotRevert('web', 's1'));
  const out = store.approvals.decide(job.id, 'approve', bob);
  assert.equal(out.job.state, 'queued');
  assert.equal(out.approval.state, 'approved');
  assert.equal(out.approval.decidedBy, bob.id);
  assert.throws(() => store.approvals.decide(job.id, 'reject', bob), decided('approved'));
  assert.throws(() => store.approvals.decide(job.id, 'approve', bob), decided('approved'));
  assert.equal(store.claim('w', 60_000)?.job.id, job.id);
});

test('reject cancels the job as rejected', (t) => {
  const store = freshStore(t);
  const job = store.enqueue(snapshotRevert('web', 's1'));
  const out = store.approvals.decide(job.id, 'reject', bob);
  assert.equal(out.job.state, 'cancelled');
  assert.deepEqual(out.job.error, { code: 'aborted', message: 'rejected by bob' });
  assert.equal(out.approval.state, 'rejected');
  assert.throws(() => store.approvals.decide(job.id, 'approve', bob), decided('rejected'));
});

test('expiry: the sweep expires due approvals and cancels their jobs; an overdue one cannot be approved', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: clock.now });
  const early = store.enqueue({ ...snapshotRevert('a', 's'), approvalTtlMs: 1_000 });
  const late = store.enqueue({ ...snapshotRevert('b', 's'), approvalTtlMs: 5_000 });
  const overdue = store.enqueue({ ...snapshotRevert('c', 's'), approvalTtlMs: 1_000 });

  clock.advance(999);
  assert.deepEqual(store.approvals.expireDue(), []);
  clock.advance(1);
  assert.deepEqual(
    store.approvals.expireDue().map((j) => [j.id, j.state]),
    [
      [early.id, 'cancelled'],
      [overdue.id, 'cancelled'],
    ],
  );
  assert.throws(() => store.approvals.decide(early.id, 'approve', bob), decided('expired'));
  assert.equal(store.approvals.get(late.id)?.state, 'pending');

  // Overdue but not swept yet: deciding expires it (and that sticks) instead of approving.
  const later = store.enqueue({ ...snapshotRevert('d', 's'), approvalTtlMs: 1_000 });
  clock.advance(1_000);
  assert.throws(() => store.approvals.decide(later.id, 'approve', bob), decided('expired'));
  assert.equal(store.get(later.id)?.state, 'cancelled');
  assert.equal(store.approvals.get(later.id)?.state, 'expired');
  const types = store.outbox.pending('shell', 100).filter((e) => e.jobId === later.id).map((e) => e.type);
  assert.deepEqual(types, ['awaiting_approval', 'approval_expired', 'cancelled']);
});

test('approvals are found by message and survive closing and reopening the database', (t) => {
  const file = tempDbFile(t);
  const before = openStore(t, file);
  const job = before.enqueue(snapshotRevert('web', 's1'));
  const other = before.enqueue(snapshotRevert('db', 's1'));
  before.approvals.attachMessage(job.id, { adapter: 'discord', channelId: 'c1', messageId: 'm1' });
  before.approvals.decide(other.id, 'reject', bob);
  before.close();

  const after = openStore(t, file);
  assert.deepEqual(
    after.approvals.listPending().map((a) => a.jobId),
    [job.id],
  );
  const found = after.approvals.byMessage('m1')!;
  assert.deepEqual([found.jobId, found.adapter, found.channelId], [job.id, 'discord', 'c1']);
  assert.equal(after.approvals.byMessage('nope'), undefined);
  assert.equal(after.approvals.decide(job.id, 'approve', bob).job.state, 'queued');
  assert.throws(() => after.approvals.decide(other.id, 'approve', bob), decided('rejected'));
});

test('deciding on a job that needs no approval is job-not-found', (t) => {
  const store = freshStore(t);
  const job = store.enqueue({ ...snapshotRevert('web', 's1'), needsApproval: false });
  assert.equal(job.state, 'queued');
  assert.throws(() => store.approvals.decide(job.id, 'approve', bob), (e: unknown) => isKvmopsError(e, 'job-not-found'));
  assert.throws(
    () => store.approvals.attachMessage(job.id, { adapter: 'discord', channelId: 'c', messageId: 'm' }),
    (e: unknown) => isKvmopsError(e, 'job-not-found'),
  );
});
