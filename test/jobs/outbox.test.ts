import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { bob, freshStore, snapshotRevert, vmStart } from './helpers.js';

test('every state change writes its event, carrying what its notification shows of the job as it was then', (t) => {
  const store = freshStore(t);
  const job = store.enqueue(snapshotRevert('web', 's1'));
  store.approvals.decide(job.id, 'approve', bob);
  const { lease } = store.claim('w', 60_000)!;
  store.progress(lease, { step: 'reverting', fraction: 0.5 });
  store.complete(lease, { reverted: { vm: 'web', snapshot: 's1' } });

  const events = store.outbox.pending('shell', 100);
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
  assert.equal(events[4]?.job.result, 'web is back at s1', 'the result summary, not the result');
  assert.equal(events[4]?.job.progress, null, 'only what the state shows');
  assert.ok(events.every((e) => e.job.title === 'Revert web to snapshot s1 (taken 2025-12-06 05:46 UTC) on local' && e.job.requester.name === 'alice'));
  assert.ok(events.every((e) => e.job.requestId === job.requestId && job.requestId.startsWith('req-')));
  assert.deepEqual(events[0]?.job.notify, { adapter: 'shell', guildId: null, channelId: 'ops' });
  assert.ok(!('payload' in events[0]!.job), 'no copy of the job');
  assert.ok(events.every((e) => e.jobId === job.id && e.deliveredAt === null && e.attempts === 0));
});

test('a change that rolls back writes no event', (t) => {
  const store = freshStore(t);
  store.enqueue(vmStart('web'));
  const before = store.outbox.pending('shell', 100).length;
  assert.throws(() => store.enqueue(vmStart('web')), (e: unknown) => isKvmopsError(e, 'duplicate-job'));
  assert.throws(() => store.requestCancel(4242, bob));
  // A failure after the event was written inside the same transaction undoes both.
  const explode = store.db.transaction(() => {
    store.enqueue(vmStart('db'));
    throw new Error('crash after the write');
  });
  assert.throws(() => explode(), /crash after the write/);
  assert.equal(store.outbox.pending('shell', 100).length, before);
  assert.equal(store.list().length, 1);
});

test('pending is oldest first and limited; delivered events leave it; failed attempts are counted', (t) => {
  const store = freshStore(t);
  for (const vm of ['a', 'b', 'c']) store.enqueue(vmStart(vm));
  const [first, second, third] = store.outbox.pending('shell', 10);
  assert.ok(first && second && third && first.id < second.id && second.id < third.id);
  assert.deepEqual(store.outbox.pending('shell', 2).map((e) => e.id), [first.id, second.id]);

  store.outbox.markAttemptFailed(first.id, 'discord: 503');
  store.outbox.markAttemptFailed(first.id, 'discord: 503 again');
  const retried = store.outbox.pending('shell', 1)[0]!;
  assert.deepEqual([retried.id, retried.attempts, retried.lastError], [first.id, 2, 'discord: 503 again']);

  store.outbox.markDelivered(first.id);
  store.outbox.markDelivered(first.id);
  assert.deepEqual(store.outbox.pending('shell', 10).map((e) => e.id), [second.id, third.id]);
  assert.throws(() => store.outbox.markDelivered(99_999), (e: unknown) => isKvmopsError(e, 'invalid-input'));
});

test('pending is per adapter and pages by id; a delivery error is kept short', (t) => {
  const store = freshStore(t);
  const discord = { adapter: 'discord', guildId: 'g', channelId: 'c' };
  const a = store.enqueue(vmStart('a'));
  const b = store.enqueue({ ...vmStart('b'), notify: discord });
  const c = store.enqueue(vmStart('c'));
  const d = store.enqueue({ ...vmStart('d'), notify: discord });
  assert.deepEqual(store.outbox.pending('shell', 10).map((e) => e.jobId), [a.id, c.id]);
  assert.deepEqual(store.outbox.pending('discord', 10).map((e) => e.jobId), [b.id, d.id]);
  assert.deepEqual(store.outbox.pending('discord', 10).map((e) => e.job.notify), [discord, discord]);
  const [first] = store.outbox.pending('shell', 1);
  assert.deepEqual(store.outbox.pending('shell', 10, first!.id).map((e) => e.jobId), [c.id]);
  assert.deepEqual(store.outbox.pending('telegram', 10), []);
  assert.deepEqual(store.outbox.pendingByAdapter(), new Map([['discord', 2], ['shell', 2]]));
  const plan = store.db.prepare(`EXPLAIN QUERY PLAN SELECT adapter, count(*) AS n FROM job_events WHERE delivered_at IS NULL GROUP BY adapter`).all();
  assert.match(JSON.stringify(plan), /USING INDEX job_events_pending/, 'only the pending rows are read');

  store.outbox.markAttemptFailed(first!.id, `503 ${'x'.repeat(5_000)}`);
  const kept = store.outbox.pending('shell', 1)[0]!.lastError!;
  assert.ok(kept.startsWith('503 x') && kept.endsWith('…') && Buffer.byteLength(kept) <= 100, kept);
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
