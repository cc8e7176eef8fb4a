import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import type { Job } from '../../src/jobs/types.js';
import { alice, bob, freshStore, notify, snapshotCreate, vmStart } from './helpers.js';

test('enqueue stores a queued job with its lock key, host and requester', (t) => {
  const store = freshStore(t);
  const job = store.enqueue(snapshotCreate('web', 's1'));
  assert.equal(job.state, 'queued');
  assert.equal(job.lockKey, 'local/vm/web');
  assert.equal(job.attempts, 0);
  assert.equal(job.maxAttempts, 3);
  assert.deepEqual(job.requester, alice);
  assert.deepEqual(job.notify, notify);
  assert.deepEqual(store.get(job.id), job);
});

test('an invalid payload or kind is refused before a job exists', (t) => {
  const store = freshStore(t);
  const bad = (e: unknown) => isKvmopsError(e, 'invalid-input');
  assert.throws(() => store.enqueue({ ...vmStart('web'), payload: { host: 'local', vm: 'a b' } }), bad);
  assert.throws(() => store.enqueue({ ...vmStart('web'), payload: { host: 'local', vm: 'web', extra: 1 } }), bad);
  assert.throws(() => store.enqueue({ ...vmStart('web'), kind: 'vm.explode' as never }), bad);
  assert.throws(() => store.enqueue({ ...vmStart('web'), maxAttempts: 0 }), bad);
  assert.deepEqual(store.list(), []);
});

test('a live duplicate is refused with the live job id; allowed again once that one finished', (t) => {
  const store = freshStore(t);
  const first = store.enqueue(vmStart('web'));
  assert.throws(
    () => store.enqueue(vmStart('web')),
    (e: unknown) => isKvmopsError(e, 'duplicate-job') && e.details.jobId === first.id,
  );
  assert.ok(store.enqueue(vmStart('db')), 'another target is no duplicate');

  const { lease } = store.claim('w', 60_000)!;
  assert.throws(() => store.enqueue(vmStart('web')), (e: unknown) => isKvmopsError(e, 'duplicate-job'), 'running is live');
  store.complete(lease, null);
  const again = store.enqueue(vmStart('web'));
  assert.notEqual(again.id, first.id);
});

test('a payload that no longer passes its schema when claimed fails the job and the claim goes on', (t) => {
  const store = freshStore(t);
  const broken = store.enqueue(vmStart('web'));
  const fine = store.enqueue(vmStart('db'));
  store.db.prepare(`UPDATE jobs SET payload = '{"host":"local","vm":"../etc"}' WHERE id = ?`).run(broken.id);

  const claimed = store.claim('w', 60_000);
  assert.equal(claimed?.job.id, fine.id);
  const failed = store.get(broken.id)!;
  assert.equal(failed.state, 'failed');
  assert.equal(failed.error?.code, 'invalid-input');
});

test('claim: priority first, then oldest; only listed hosts', (t) => {
  const store = freshStore(t);
  const low = store.enqueue(vmStart('a'));
  const high = store.enqueue({ ...vmStart('b'), priority: 5 });
  const remote = store.enqueue(vmStart('c', 'remote'));
  assert.equal(store.claim('w', 60_000, { hosts: ['local'] })?.job.id, high.id);
  assert.equal(store.claim('w', 60_000, { hosts: ['local'] })?.job.id, low.id);
  assert.equal(store.claim('w', 60_000, { hosts: ['local'] }), undefined);
  assert.equal(store.claim('w', 60_000)?.job.id, remote.id);
});

test('one running job per VM, in accept order', (t) => {
  const store = freshStore(t);
  const a = store.enqueue(snapshotCreate('web', 's1'));
  const b = store.enqueue(snapshotCreate('web', 's2'));
  const first = store.claim('w', 60_000)!;
  assert.equal(first.job.id, a.id);
  assert.equal(store.claim('w', 60_000), undefined, 'web is busy');
  store.complete(first.lease, null);
  assert.equal(store.claim('w', 60_000)?.job.id, b.id);
});

test('list filters by state and requester, newest first', (t) => {
  const store = freshStore(t);
  const a = store.enqueue(vmStart('a'));
  const b = store.enqueue({ ...vmStart('b'), requester: bob });
  store.claim('w', 60_000);
  assert.deepEqual(store.list().map((j) => j.id), [b.id, a.id]);
  assert.deepEqual(store.list({ state: 'queued' }).map((j) => j.id), [b.id]);
  assert.deepEqual(store.list({ requesterId: alice.id }).map((j) => j.id), [a.id]);
  assert.deepEqual(store.list({ limit: 1 }).map((j) => j.id), [b.id]);
});

test('listeners hear every committed change, after commit, and a throwing one does not undo it', (t) => {
  const errors: unknown[] = [];
  const store = freshStore(t, { onListenerError: (e) => errors.push(e) });
  const seen: Array<[number, string]> = [];
  store.onChange((job: Job) => {
    assert.equal(store.get(job.id)?.state, job.state, 'the change is already visible');
    seen.push([job.id, job.state]);
  });
  const off = store.onChange(() => {
    throw new Error('boom');
  });
  const job = store.enqueue(vmStart('web'));
  off();
  const { lease } = store.claim('w', 60_000)!;
  store.setStatusMessage(job.id, 'msg-1');
  store.complete(lease, null);
  assert.equal(errors.length, 1);
  assert.deepEqual(seen, [
    [job.id, 'queued'],
    [job.id, 'running'],
    [job.id, 'running'],
    [job.id, 'succeeded'],
  ]);
  assert.equal(store.get(job.id)?.statusMessageId, 'msg-1');
});
