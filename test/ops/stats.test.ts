import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { jobStats } from '../../src/jobs/stats.js';
import { openJobStore } from '../../src/jobs/store.js';
import type { Lease } from '../../src/jobs/types.js';
import { snapshotRevert, tempDir, vmStart } from './helpers.js';

/** The plain GROUP BY the incremental counts must always agree with. */
function groupBy(db: import('../../src/jobs/db.js').Database): string[] {
  return (db.prepare('SELECT state, kind, COUNT(*) AS n FROM jobs GROUP BY state, kind').all() as Array<{ state: string; kind: string; n: number }>)
    .map((r) => `${r.state} ${r.kind} ${r.n}`)
    .sort();
}
const counted = (s: ReturnType<typeof jobStats>) => s.counts.map((c) => `${c.state} ${c.kind} ${c.count}`).sort();

test('incremental counts by state and kind agree with a GROUP BY through every kind of change', (t) => {
  const store = openJobStore(join(tempDir(t), 'kvmops.db'), { backoff: { baseMs: 0, capMs: 0 }, random: () => 0 });
  t.after(() => store.db.open && store.close());
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return Math.floor(seed / 65_536) % n;
  };
  const leases: Lease[] = [];
  const bob = { id: '200', name: 'bob' };
  let vm = 0;
  for (let step = 0; step < 400; step++) {
    const op = rand(8);
    try {
      if (op <= 1) store.enqueue(vmStart(`vm-${vm++}`));
      else if (op === 2) store.enqueue(snapshotRevert(`vm-${vm++}`, 'snap'));
      else if (op === 3) {
        const c = store.claim('w', 60_000);
        if (c) leases.push(c.lease);
      } else if (op === 4 && leases.length) store.complete(leases.shift()!, null);
      else if (op === 5 && leases.length) store.fail(leases.shift()!, { code: 'host-unreachable', message: 'x' }, { retry: rand(2) === 0 });
      else if (op === 6) {
        const pending = store.approvals.listPending()[0];
        if (pending) store.approvals.decide(pending.jobId, rand(2) ? 'approve' : 'reject', bob);
      } else if (op === 7) {
        const queued = store.list({ state: 'queued', limit: 1 })[0];
        if (queued) store.requestCancel(queued.id, bob);
      }
    } catch (e) {
      // Refusals of the queue's rules are part of the game; anything else is a failure.
      if (!isKvmopsError(e)) throw e;
    }
    if (step % 5 === 0) assert.deepEqual(counted(jobStats(store.db)), groupBy(store.db), `after step ${step}`);
  }
  const s = jobStats(store.db);
  assert.deepEqual(counted(s), groupBy(store.db));
  assert.ok(s.counts.some((c) => c.state === 'succeeded') && s.counts.some((c) => c.state === 'failed'));
  assert.ok(s.counts.some((c) => c.state === 'cancelled') && s.counts.some((c) => c.state === 'queued'));
  assert.equal(s.running, leases.length);
  assert.equal(s.approvalsPending, store.approvals.listPending().length);
  assert.ok(s.recent.length > 0 && s.recent.length <= 50);
  assert.ok(s.recent.every((r, i) => i === 0 || r.finishedAt <= s.recent[i - 1]!.finishedAt), 'newest finish first');

  // Rows deleted by hand (or by the retention prune) are counted out at once: the counts are
  // kept by triggers, not by a recount.
  store.db.prepare(`DELETE FROM job_events`).run();
  store.db.prepare(`DELETE FROM approvals`).run();
  store.db.prepare(`DELETE FROM jobs WHERE state = 'succeeded'`).run();
  assert.deepEqual(counted(jobStats(store.db)), groupBy(store.db));
  assert.ok(!jobStats(store.db).counts.some((c) => c.state === 'succeeded'));
});

test('queue depth, runnable and the oldest queued job', (t) => {
  let now = 1_700_000_000_000;
  const store = openJobStore(join(tempDir(t), 'kvmops.db'), {
    now: () => now,
    backoff: { baseMs: 60_000, capMs: 60_000 },
    random: () => 0.5,
  });
  t.after(() => store.db.open && store.close());
  const empty = jobStats(store.db, { now });
  assert.equal(empty.queued, 0);
  assert.equal(empty.runnable, 0);
  assert.equal(empty.oldestQueuedAt, null);
  assert.deepEqual(empty.counts, []);

  const first = store.enqueue(vmStart('a'));
  now += 1_000;
  store.enqueue(vmStart('b'));
  const c = store.claim('w', 60_000)!;
  assert.equal(c.job.id, first.id);
  store.fail(c.lease, { code: 'host-unreachable', message: 'down' }, { retry: true }); // back off a minute
  const s = jobStats(store.db, { now });
  assert.equal(s.queued, 2);
  assert.equal(s.runnable, 1, 'the retry is not due yet');
  assert.equal(s.oldestQueuedAt, first.createdAt);
});
