import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openStore, runTogether, snapshotCreate, tempDbFile } from './helpers.js';

/**
 * Several node processes race for the same database (test/jobs/fixtures, started together by
 * runTogether). `*.slow.test.ts`: starting each process with tsx takes most of a second of CPU,
 * so `npm test` runs these and `npm run test:unit` does not.
 */

/** Events in commit order (ids are assigned at commit under the write lock): a clock that cannot lie. */
function eventsByJob(db: import('../../src/jobs/db.js').Database, type: string): Map<number, number[]> {
  const rows = db.prepare('SELECT id, job_id FROM job_events WHERE type = ? ORDER BY id').all(type) as Array<{ id: number; job_id: number }>;
  const m = new Map<number, number[]>();
  for (const r of rows) m.set(r.job_id, [...(m.get(r.job_id) ?? []), r.id]);
  return m;
}

test('three processes claiming the same 300 jobs never double-claim', async (t) => {
  const file = tempDbFile(t);
  const store = openStore(t, file);
  const ids = Array.from({ length: 300 }, (_, i) => store.enqueue(snapshotCreate(`vm-${i}`, 'daily')).id);

  // A little work per job (0–2 ms) keeps every process in the race: with none, one process
  // could drain the queue before the others' first claim, and the test would prove nothing.
  const outputs = await runTogether('claimer.ts', ['a', 'b', 'c'].map((owner) => [file, owner, '2', '2']), file);
  const done = outputs.flat();

  assert.equal(done.length, ids.length, 'every job completed exactly once (no complete was refused, none repeated)');
  assert.deepEqual(new Set(done.map((d) => d.jobId)).size, ids.length);
  const claims = eventsByJob(store.db, 'running');
  for (const id of ids) assert.equal(claims.get(id)?.length, 1, `job ${id} claimed once`);
  for (const job of store.list({ limit: 1000 })) {
    assert.equal(job.state, 'succeeded');
    assert.equal(job.attempts, 1);
    assert.equal(job.leaseToken, 1);
  }
  assert.ok(new Set(done.map((d) => String(d.owner).split('.')[0])).size >= 2, 'more than one process took part');
});

test('per-VM order: 200 jobs on 10 VMs, random durations, 3 processes × 3 loops', async (t) => {
  const file = tempDbFile(t);
  const store = openStore(t, file);
  const accepted = new Map<string, number[]>();
  for (let i = 0; i < 200; i++) {
    const vm = `vm-${Math.floor(Math.random() * 10)}`;
    const job = store.enqueue(snapshotCreate(vm, `s${i}`));
    accepted.set(job.lockKey, [...(accepted.get(job.lockKey) ?? []), job.id]);
  }

  await runTogether('claimer.ts', ['a', 'b', 'c'].map((owner) => [file, owner, '3', '8']), file);

  const starts = eventsByJob(store.db, 'running');
  const ends = eventsByJob(store.db, 'succeeded');
  for (const [key, ids] of accepted) {
    const byStart = [...ids].sort((a, b) => starts.get(a)![0]! - starts.get(b)![0]!);
    assert.deepEqual(byStart, ids, `${key}: start order is accept order`);
    for (let i = 1; i < ids.length; i++) {
      assert.ok(ends.get(ids[i - 1]!)![0]! < starts.get(ids[i]!)![0]!, `${key}: job ${ids[i]} started after ${ids[i - 1]} ended`);
    }
  }
});

test('dedupe under a race: two processes enqueue the same 100 jobs at once', async (t) => {
  const file = tempDbFile(t);
  const store = openStore(t, file);
  const [a, b] = await runTogether('enqueuer.ts', [[file, '100'], [file, '100']], file);

  for (let i = 0; i < 100; i++) {
    const outcomes = [a!.find((o) => o.i === i)!, b!.find((o) => o.i === i)!];
    const winners = outcomes.filter((o) => 'jobId' in o);
    assert.equal(winners.length, 1, `vm-${i}: exactly one enqueue won`);
    const loser = outcomes.find((o) => 'duplicateOf' in o)!;
    assert.equal(loser.duplicateOf, winners[0]!.jobId, `vm-${i}: the refusal names the live job`);
  }
  assert.equal(store.list({ limit: 1000 }).length, 100);
  assert.ok(a!.some((o) => 'jobId' in o) && b!.some((o) => 'jobId' in o), 'the processes really raced (both won some)');
});
