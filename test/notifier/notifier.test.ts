import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { SqliteJobStore } from '../../src/jobs/store.js';
import type { Job, Lease } from '../../src/jobs/types.js';
import { Notifier, type NotifierOptions } from '../../src/notifier/notifier.js';
import { PermanentSinkError } from '../../src/notifier/types.js';
import { bob, freshStore, openStore, snapshotCreate, snapshotRevert, vmStart } from '../jobs/helpers.js';
import { silentLogger } from '../../src/domain/logger.js';
import { deferrals, waitFor } from '../worker/helpers.js';
import { RecordingSink } from './recording-sink.js';

const fast = { backoff: { baseMs: 10, maxMs: 40 }, minProgressEditMs: 50, safetyPollMs: 50 };

const stops = new WeakMap<TestContext, (fn: () => unknown) => void>();

/** Call first in a test (before opening stores): notifiers then stop before their store closes. */
function setUp(t: TestContext): void {
  stops.set(t, deferrals(t));
}

function notifierFor(t: TestContext, store: SqliteJobStore, sink: RecordingSink, opts: Partial<NotifierOptions> = {}): Notifier {
  // The sinks here fail on purpose: their retries are expected, not worth a warning each.
  const n = new Notifier({ outbox: store.outbox, store, approvals: store.approvals, sinks: [sink], logger: silentLogger, ...fast, ...opts });
  const defer = stops.get(t);
  if (!defer) throw new Error('call setUp(t) first');
  defer(() => n.stop());
  return n;
}

/** Drives a job through the real store as a worker would: claim, progress steps, complete. */
function runJob(store: SqliteJobStore, progressSteps = 0, outcome: 'complete' | 'fail' = 'complete'): Job {
  const claimed = store.claim('test-worker', 30_000);
  assert.ok(claimed, 'a job to claim');
  const lease: Lease = claimed.lease;
  for (let i = 1; i <= progressSteps; i++) store.progress(lease, { step: 'copying', fraction: i / progressSteps });
  return outcome === 'complete'
    ? store.complete(lease, { snapshot: { vm: 'vm', name: 's', kind: 'internal', createdAt: 1 } })
    : store.fail(lease, { code: 'vm-not-found', message: 'gone' }, { retry: false });
}

async function drained(store: SqliteJobStore, n: Notifier): Promise<void> {
  await waitFor('outbox drained', () => store.outbox.pending('shell', 10_000).length === 0, 20_000);
  await n.flush();
}

test('all events delivered, status converges to the final state, one announce per finished job', async (t) => {
  setUp(t);
  const store = freshStore(t);
  const sink = new RecordingSink();
  const n = notifierFor(t, store, sink);
  n.start();
  const jobs = [store.enqueue(vmStart('a')), store.enqueue(vmStart('b')), store.enqueue(vmStart('c'))];
  runJob(store, 3);
  runJob(store, 0, 'fail');
  await drained(store, n);
  const third = store.get(jobs[2]!.id)!;
  assert.equal(third.state, 'queued');
  for (const j of jobs) {
    assert.equal(sink.messagesOf(j.id).length, 1, `one status message for job ${j.id}`);
    assert.equal(store.get(j.id)!.statusMessageId, sink.messagesOf(j.id)[0]);
  }
  assert.equal(sink.messages.get(store.get(jobs[0]!.id)!.statusMessageId!)!.state, 'succeeded');
  assert.equal(sink.messages.get(store.get(jobs[1]!.id)!.statusMessageId!)!.state, 'failed');
  assert.equal(sink.messages.get(third.statusMessageId!)!.state, 'queued');
  assert.deepEqual(sink.announces.map((v) => [v.jobId, v.state]).sort(), [
    [jobs[0]!.id, 'succeeded'],
    [jobs[1]!.id, 'failed'],
  ]);
});

test('a sink that is down for its first 25 calls: afterwards every event is delivered exactly once', async (t) => {
  setUp(t);
  const store = freshStore(t);
  const sink = new RecordingSink((call) => call <= 25);
  // Per-job messages under failure; the same for a crowded channel is in crowd.test.ts.
  const n = notifierFor(t, store, sink, { crowd: false });
  n.start();
  const jobs: Job[] = [];
  for (let i = 0; i < 8; i++) {
    jobs.push(store.enqueue(vmStart(`vm${i}`)));
    runJob(store, 5, i % 3 === 0 ? 'fail' : 'complete');
  }
  await drained(store, n);
  assert.ok(sink.failedCalls >= 1, 'the sink did fail');
  for (const j of jobs) {
    const final = store.get(j.id)!;
    assert.equal(sink.messagesOf(j.id).length, 1, `job ${j.id}: exactly one status message`);
    assert.equal(sink.messages.get(final.statusMessageId!)!.state, final.state, `job ${j.id}: the status shows the final state`);
    assert.equal(sink.announces.filter((v) => v.jobId === j.id).length, 1, `job ${j.id}: announced once`);
  }
  t.diagnostic(`sink calls ${sink.calls}, failed ${sink.failedCalls}, edits ${sink.edits.length}, stats ${JSON.stringify(n.stats)}`);
});

test('a sink down for a while (time-based) with jobs still finishing during the outage', async (t) => {
  setUp(t);
  const store = freshStore(t);
  let down = true;
  const sink = new RecordingSink(() => down);
  const n = notifierFor(t, store, sink);
  n.start();
  const jobs = [store.enqueue(vmStart('x')), store.enqueue(vmStart('y'))];
  runJob(store, 2);
  await waitFor('a few failures', () => sink.failedCalls >= 3);
  runJob(store, 2, 'fail');
  const late = store.enqueue(snapshotCreate('z', 's1'));
  down = false;
  await drained(store, n);
  for (const j of [...jobs, late]) assert.equal(sink.messagesOf(j.id).length, 1);
  assert.deepEqual(sink.announces.map((v) => v.jobId).sort(), jobs.map((j) => j.id).sort());
});

test('announceEnd failing is retried without a second mention; the status is not re-created', async (t) => {
  setUp(t);
  const store = freshStore(t);
  let announceFailures = 0;
  const sink = new RecordingSink((_call, what) => what === 'announce' && announceFailures++ < 3);
  const n = notifierFor(t, store, sink);
  n.start();
  const job = store.enqueue(vmStart('a'));
  runJob(store, 0);
  await drained(store, n);
  assert.equal(sink.announces.length, 1);
  assert.equal(sink.messagesOf(job.id).length, 1);
});

test('progress is coalesced: 100 progress events → a few edits; the final state at once', async (t) => {
  setUp(t);
  const store = freshStore(t);
  const sink = new RecordingSink();
  const n = notifierFor(t, store, sink, { minProgressEditMs: 2_000 });
  n.start();
  const job = store.enqueue(vmStart('a'));
  const { lease } = store.claim('w', 30_000)!;
  await waitFor('running shown', () => sink.edits.some((e) => e.state === 'running'));
  for (let i = 1; i <= 100; i++) {
    store.progress(lease, { step: 'copying', fraction: i / 100 });
    await new Promise((r) => setTimeout(r, 5)); // ~0.5 s of progress
  }
  store.complete(lease, null);
  await drained(store, n);
  const edits = sink.edits.filter((e) => e.jobId === job.id);
  t.diagnostic(`${edits.length} edits for queued + running + 100 progress + succeeded`);
  assert.ok(edits.length <= 5, `${edits.length} edits`);
  assert.equal(edits.at(-1)!.state, 'succeeded');
  assert.equal(sink.announces.length, 1);
});

test('a new notifier (restart) edits the stored status message instead of posting another', async (t) => {
  setUp(t);
  const store = freshStore(t);
  const sink = new RecordingSink();
  const first = notifierFor(t, store, sink);
  first.start();
  const job = store.enqueue(vmStart('a'));
  await drained(store, first);
  await first.stop();
  const { lease } = store.claim('w', 30_000)!;
  store.complete(lease, null);
  // Another process on the same file: its own connection, its own notifier.
  const store2 = openStore(t, store.db.name);
  const second = notifierFor(t, store2, sink);
  second.start();
  await drained(store2, second);
  assert.equal(sink.messagesOf(job.id).length, 1);
  assert.equal(sink.announces.length, 1);
});

test('a permanent sink error drops that job’s notification and does not block the others', async (t) => {
  setUp(t);
  const store = freshStore(t);
  const sink = new RecordingSink();
  const bad = store.enqueue({ ...vmStart('a'), notify: { adapter: 'shell', guildId: null, channelId: 'deleted' } });
  const good = store.enqueue(vmStart('b'));
  const realUpsert = sink.upsertStatus.bind(sink);
  sink.upsertStatus = async (target, id, view) => {
    if (target.channelId === 'deleted') throw new PermanentSinkError('Unknown Channel (10003)');
    return realUpsert(target, id, view);
  };
  const n = notifierFor(t, store, sink);
  n.start();
  await drained(store, n);
  assert.equal(sink.messagesOf(bad.id).length, 0);
  assert.equal(sink.messagesOf(good.id).length, 1);
  assert.ok(n.stats.dropped >= 1);
});

test('approval decided or expired: the sink is told (approvalChanged)', async (t) => {
  setUp(t);
  const now = { t: Date.now() };
  const store = freshStore(t, { now: () => now.t });
  const sink = new RecordingSink();
  const n = notifierFor(t, store, sink);
  n.start();
  const approved = store.enqueue(snapshotRevert('vm1', 's1'));
  const expiring = store.enqueue({ ...snapshotRevert('vm2', 's1'), approvalTtlMs: 1_000 });
  await drained(store, n);
  assert.equal(sink.approvalEdits.length, 0);
  store.approvals.decide(approved.id, 'approve', bob);
  now.t += 5_000;
  store.approvals.expireDue(now.t);
  await drained(store, n);
  assert.deepEqual(
    sink.approvalEdits.map((e) => [e.jobId, e.state]).sort(),
    [
      [approved.id, 'approved'],
      [expiring.id, 'expired'],
    ],
  );
  // The expired request is a finished job: its requester is told once.
  assert.deepEqual(
    sink.announces.map((v) => [v.jobId, v.state]),
    [[expiring.id, 'cancelled']],
  );
});
