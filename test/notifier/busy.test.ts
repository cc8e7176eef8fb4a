import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { SqliteJobStore } from '../../src/jobs/store.js';
import type { NotifyTarget } from '../../src/jobs/types.js';
import { Notifier, type NotifierOptions } from '../../src/notifier/notifier.js';
import type { StatusView } from '../../src/notifier/types.js';
import { silentLogger } from '../../src/domain/logger.js';
import { EVENT_LOOP_GAP_BOUND_MS, LOCK_MS, holdWriteLock, maxTickGap, type WriteLock } from '../jobs/db-lock.js';
import { openStore, tempDbFile, vmStart } from '../jobs/helpers.js';
import { deferrals, sleep, waitFor } from '../worker/helpers.js';
import { RecordingSink } from './recording-sink.js';

/**
 * Deliveries while ANOTHER PROCESS holds the database's write lock (LOCK_MS: longer than the
 * notifier's patience here; a synchronous wait for it would show as a blocked event loop): what
 * the chat accepted is posted once — one status message, one "finished" mention — and recorded
 * once the lock is gone; nothing is lost, the event loop never waits.
 */

const fast = { backoff: { baseMs: 10, maxMs: 40 }, minProgressEditMs: 50, safetyPollMs: 50, logger: silentLogger };

function finishedJob(store: SqliteJobStore): number {
  const job = store.enqueue(vmStart('web'));
  const { lease } = store.claim('w', 60_000)!;
  store.complete(lease, { vm: 'web', state: 'running' });
  return job.id;
}

function start(t: TestContext, store: SqliteJobStore, sink: RecordingSink, opts: Partial<NotifierOptions> = {}): Notifier {
  const n = new Notifier({ outbox: store.outbox, store, approvals: store.approvals, sinks: [sink], ...fast, ...opts });
  deferrals(t)(() => n.stop());
  n.start();
  return n;
}

test('a delivery whose recording meets the lock: one status message, one mention, all recorded after the release', async (t) => {
  const file = tempDbFile(t);
  const store = openStore(t, file);
  const jobId = finishedJob(store);
  const lock = await holdWriteLock(file, t);
  const sink = new RecordingSink();

  const { maxGapMs } = await maxTickGap(async () => {
    start(t, store, sink);
    await waitFor('the status posted', () => sink.edits.length > 0);
    await lock.releaseAfter(LOCK_MS);
    await waitFor('the outbox drained', () => store.outbox.pending('shell', 100).length === 0, 20_000);
  });
  t.diagnostic(`longest event-loop gap: ${maxGapMs.toFixed(1)} ms; sink calls ${sink.calls}`);
  assert.ok(maxGapMs < EVENT_LOOP_GAP_BOUND_MS, `the event loop was blocked for ${maxGapMs.toFixed(0)} ms`);
  await sleep(200); // a repeat would come right after
  assert.deepEqual(sink.messagesOf(jobId), ['m1'], 'one status message');
  assert.equal(sink.announces.length, 1, 'one mention');
  assert.equal(store.get(jobId)?.statusMessageId, 'm1', 'recorded: a restart edits it instead of posting another');
});

test('the lock comes while announcing and outlasts the patience: the batch backs off, the retries edit the same message and never mention twice', async (t) => {
  const file = tempDbFile(t);
  const store = openStore(t, file);
  const jobId = finishedJob(store);
  let lock: WriteLock | undefined;
  class LockingSink extends RecordingSink {
    override async announceEnd(target: NotifyTarget, view: StatusView): Promise<void> {
      await super.announceEnd(target, view);
      lock ??= await holdWriteLock(file, t); // the mention is out; now nothing can record it
    }
  }
  const sink = new LockingSink();
  const { maxGapMs } = await maxTickGap(async () => {
    const n = start(t, store, sink, { dbPatienceMs: 200 });
    await waitFor('the mention', () => lock !== undefined);
    await waitFor('a few backed-off retries', () => n.stats.failures >= 3, 10_000);
    await lock!.releaseAfter(LOCK_MS);
    await waitFor('the outbox drained', () => store.outbox.pending('shell', 100).length === 0, 20_000);
  });
  assert.ok(maxGapMs < EVENT_LOOP_GAP_BOUND_MS, `the event loop was blocked for ${maxGapMs.toFixed(0)} ms`);
  await sleep(200);
  assert.ok(sink.edits.length > 1, 'retried while locked');
  assert.deepEqual(sink.messagesOf(jobId), ['m1'], 'every retry edited the one status message');
  assert.equal(sink.announces.length, 1, 'mentioned once');
  assert.equal(store.get(jobId)?.statusMessageId, 'm1');
});
