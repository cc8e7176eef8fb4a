import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { SqliteJobStore } from '../../src/jobs/store.js';
import { Notifier } from '../../src/notifier/notifier.js';
import { silentLogger } from '../../src/domain/logger.js';
import { freshStore, snapshotCreate } from '../jobs/helpers.js';
import { deferrals, waitFor } from '../worker/helpers.js';
import { RecordingSink } from './recording-sink.js';

/**
 * A quiet batch (a schedule's run, issue 25): its ONE status message is edited in place as
 * ever, but a run that succeeds mentions nobody; one that fails still mentions its requester
 * (the schedule's creator), once.
 */

const fast = { backoff: { baseMs: 10, maxMs: 40 }, minProgressEditMs: 50, safetyPollMs: 50 };

function notifier(t: TestContext, store: SqliteJobStore, sink: RecordingSink): Notifier {
  const defer = deferrals(t);
  const n = new Notifier({ outbox: store.outbox, store, approvals: store.approvals, sinks: [sink], logger: silentLogger, ...fast });
  defer(() => n.stop());
  return n;
}

async function drained(store: SqliteJobStore, n: Notifier): Promise<void> {
  await waitFor('outbox drained', () => store.outbox.pending('shell', 10_000).length === 0, 20_000);
  await n.flush();
}

function runAll(store: SqliteJobStore, fails?: string): void {
  for (let c = store.claim('w', 30_000); c; c = store.claim('w', 30_000)) {
    if (c.job.payload.vm === fails) store.fail(c.lease, { code: 'command-failed', message: 'qemu-img: not in qcow2 format' }, { retry: false });
    else store.complete(c.lease, { snapshot: { vm: c.job.payload.vm, name: 's', kind: 'internal', createdAt: 1 } });
  }
}

for (const quiet of [true, false]) {
  test(`a ${quiet ? 'quiet' : 'plain'} batch that succeeds: its message edited to succeeded, ${quiet ? 'no' : 'one'} mention`, async (t) => {
    const store = freshStore(t);
    const sink = new RecordingSink();
    const n = notifier(t, store, sink);
    n.start();
    const jobs = store.enqueueBatch(['web-01', 'web-02'].map((vm) => ({ ...snapshotCreate(vm, 's'), quiet })));
    assert.ok(jobs.every((j) => j.quiet === quiet));
    await drained(store, n);
    runAll(store);
    await drained(store, n);
    const lead = store.get(jobs[0]!.id)!;
    assert.equal(sink.messages.get(lead.statusMessageId!)!.state, 'succeeded');
    assert.equal(sink.messagesOf(lead.id).length, 1, 'one status message');
    assert.equal(sink.announces.length, quiet ? 0 : 1);
  });
}

test('a quiet batch with a failure still mentions its requester, once', async (t) => {
  const store = freshStore(t);
  const sink = new RecordingSink();
  const n = notifier(t, store, sink);
  n.start();
  const jobs = store.enqueueBatch(['web-01', 'web-02', 'web-03'].map((vm) => ({ ...snapshotCreate(vm, 's'), quiet: true })));
  await drained(store, n);
  runAll(store, 'web-02');
  await drained(store, n);
  assert.equal(sink.announces.length, 1);
  assert.equal(sink.announces[0]!.jobId, jobs[0]!.id);
  assert.equal(sink.announces[0]!.state, 'failed');
  assert.equal(sink.announces[0]!.requester.id, jobs[0]!.requester.id);
});
