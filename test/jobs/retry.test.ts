import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Clock, freshStore, snapshotCreate } from './helpers.js';

const policy = { baseMs: 2_000, capMs: 300_000 };

test('retry backoff grows per attempt and is capped; the job is not claimable before it is due', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: clock.now, random: () => 0.999, backoff: policy });
  const { id } = store.enqueue({ ...snapshotCreate('web', 's1'), maxAttempts: 12 });

  const delays: number[] = [];
  for (let attempt = 1; attempt < 12; attempt++) {
    const { lease } = store.claim('w', 60_000)!;
    const job = store.fail(lease, { code: 'host-unreachable', message: 'no route' }, { retry: true });
    assert.equal(job.state, 'queued');
    assert.equal(job.error?.code, 'host-unreachable');
    delays.push(job.runAt - clock.t);
    clock.advance(job.runAt - clock.t - 1);
    assert.equal(store.claim('w', 60_000), undefined, 'not before run_at');
    clock.advance(1);
  }
  for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! >= delays[i - 1]!, `delay ${i} does not shrink`);
  assert.ok(delays[0]! <= policy.baseMs && delays[0]! >= policy.baseMs / 2);
  assert.ok(delays.every((d) => d <= policy.capMs), 'capped');
  assert.ok(delays.at(-1)! > policy.capMs / 2, 'reaches the cap');

  const last = store.claim('w', 60_000)!;
  const failed = store.fail(last.lease, { code: 'host-unreachable', message: 'no route' }, { retry: true });
  assert.equal(failed.state, 'failed', 'attempts used up');
  assert.equal(failed.attempts, 12);
  assert.equal(store.get(id)?.finishedAt, clock.t);
});

test('a permanent failure fails at once, attempts left or not', (t) => {
  const store = freshStore(t);
  store.enqueue(snapshotCreate('web', 's1'));
  const { lease } = store.claim('w', 60_000)!;
  const job = store.fail(lease, { code: 'vm-not-found', message: 'no domain web' }, { retry: false });
  assert.equal(job.state, 'failed');
  assert.deepEqual(job.error, { code: 'vm-not-found', message: 'no domain web' });
});

test('an unknown error code is stored as internal', (t) => {
  const store = freshStore(t);
  store.enqueue(snapshotCreate('web', 's1'));
  const { lease } = store.claim('w', 60_000)!;
  assert.equal(store.fail(lease, { code: 'EWHATEVER', message: 'x' }, { retry: false }).error?.code, 'internal');
});

test('an older job waiting out its backoff keeps its VM: newer jobs on that VM wait', (t) => {
  const clock = new Clock();
  const store = freshStore(t, { now: clock.now, random: () => 0 });
  const older = store.enqueue(snapshotCreate('web', 's1'));
  const first = store.claim('w', 60_000)!;
  const newer = store.enqueue(snapshotCreate('web', 's2'));
  const other = store.enqueue(snapshotCreate('db', 's1'));
  const retrying = store.fail(first.lease, { code: 'command-timeout', message: 'slow' }, { retry: true });

  assert.equal(store.claim('w', 60_000)?.job.id, other.id, 'another VM goes ahead');
  assert.equal(store.claim('w', 60_000), undefined, `job ${newer.id} waits behind ${older.id}`);
  clock.t = retrying.runAt;
  assert.equal(store.claim('w', 60_000)?.job.id, older.id);
});
