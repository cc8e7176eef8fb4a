import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { SqliteJobStore } from '../../src/jobs/store.js';
import { Notifier } from '../../src/notifier/notifier.js';
import { batchView } from '../../src/notifier/render.js';
import { silentLogger } from '../../src/domain/logger.js';
import { bob, freshStore, PINNED, snapshotCreate, snapshotRevert } from '../jobs/helpers.js';
import { deferrals, waitFor } from '../worker/helpers.js';
import { RecordingSink } from './recording-sink.js';

/**
 * A batch (a VM pattern's jobs) has ONE status message — per-VM lines and a progress bar over
 * the batch — and ONE completion mention once every job of it has ended; a VM that fails shows
 * on its line and in that mention, and does not stop the others.
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

/** Claims and finishes the next job: the VM named `fails` fails, the others succeed. */
function runNext(store: SqliteJobStore, fails?: string): void {
  const c = store.claim('w', 30_000);
  assert.ok(c, 'a job to claim');
  store.progress(c.lease, { step: 'snapshotting', fraction: 0.5 });
  if (c.job.payload.vm === fails) store.fail(c.lease, { code: 'command-failed', message: 'qemu-img: not in qcow2 format' }, { retry: false });
  else store.complete(c.lease, { snapshot: { vm: c.job.payload.vm, name: 's', kind: 'internal', createdAt: 1 } });
}

test('one status message and one completion mention for a batch of five with one failure', async (t) => {
  const store = freshStore(t);
  const sink = new RecordingSink();
  const n = notifier(t, store, sink);
  n.start();
  const vms = ['web-01', 'web-02', 'web-03', 'web-04', 'web-05'];
  const jobs = store.enqueueBatch(vms.map((vm) => snapshotCreate(vm, 's')));
  const lead = jobs[0]!.id;
  await drained(store, n);
  assert.equal(sink.edits.length, 1, 'five queued jobs: one post, no edits that show the same');
  for (let i = 0; i < vms.length; i++) {
    runNext(store, 'web-03');
    await drained(store, n);
    assert.equal(sink.announces.length, i === vms.length - 1 ? 1 : 0, `after job ${i + 1}: announced only at the end`);
  }
  // Every upsert went to one message, keyed by the lead; the lead's row holds it.
  assert.deepEqual([...new Set(sink.edits.map((e) => e.messageId))], [store.get(lead)!.statusMessageId]);
  assert.deepEqual([...new Set(sink.edits.map((e) => e.jobId))], [lead]);
  const last = sink.messages.get(store.get(lead)!.statusMessageId!)!;
  assert.equal(last.state, 'failed');
  assert.deepEqual(last.batch, { size: 5, ended: 5 });
  assert.match(last.lines.join('\n'), /▰▰▰▰▰▰▰▰▰▰ 5 of 5 ended — 4 succeeded, 1 failed/);
  assert.match(last.lines.join('\n'), new RegExp(`#${jobs[2]!.id} web-03: failed — command-failed: qemu-img: not in qcow2 format`));
  assert.match(last.lines.join('\n'), new RegExp(`#${jobs[4]!.id} web-05: succeeded`));
  const [end] = sink.announces;
  assert.equal(end!.jobId, lead);
  assert.match(end!.error!.message, /1 of 5 failed: web-03/);
});

test('a rejected batch: one message showing all cancelled, one mention', async (t) => {
  const store = freshStore(t);
  const sink = new RecordingSink();
  const n = notifier(t, store, sink);
  n.start();
  const jobs = store.enqueueBatch(['a', 'b', 'c'].map((vm) => snapshotRevert(vm, 'x')));
  await drained(store, n);
  store.approvals.decide(jobs[1]!.id, 'reject', bob);
  await drained(store, n);
  assert.equal(sink.messagesOf(jobs[0]!.id).length, 1);
  assert.equal(sink.announces.length, 1);
  assert.equal(sink.announces[0]!.state, 'cancelled');
  assert.match(sink.announces[0]!.lines.join('\n'), /3 of 3 ended — 3 cancelled/);
});

test('batchView: the progress bar counts ended jobs; a running one shows its step', (t) => {
  const store = freshStore(t);
  const jobs = store.enqueueBatch(['a', 'b', 'c', 'd'].map((vm) => snapshotCreate(vm, 's')));
  runNext(store);
  const c = store.claim('w', 30_000)!;
  store.progress(c.lease, { step: 'copying', fraction: 0.4 });
  const view = batchView(store.batch(jobs[0]!.id), Date.now());
  assert.equal(view.state, 'running');
  assert.match(view.lines.join('\n'), /▰▰▰▱▱▱▱▱▱▱ 1 of 4 ended — 1 succeeded, 1 running, 2 queued/);
  assert.match(view.lines.join('\n'), /#\d+ b: running \(copying 40%\)/);
});

test('a batch of mixed kinds (a schedule run: snapshots, then its retention deletes) says what each job does, not "N more VMs"', (t) => {
  const store = freshStore(t);
  const jobs = store.enqueueBatch([
    snapshotCreate('web-01', 'auto-3-20261208-0100'),
    { ...snapshotCreate('web-01', 'auto-3-20261207-0100'), kind: 'snapshot.delete', payload: { host: 'local', vm: 'web-01', name: 'auto-3-20261207-0100', ...PINNED } },
  ]);
  const view = batchView(jobs, Date.now());
  assert.match(view.title, /and 1 more job$/);
  const lines = view.lines.filter((l) => /^#\d+ /.test(l));
  assert.equal(lines.length, 2);
  assert.match(lines[0]!, /Snapshot web-01 as auto-3-20261208-0100/);
  assert.match(lines[1]!, /Delete snapshot auto-3-20261207-0100 of web-01|auto-3-20261207-0100/);
  // a pattern's batch (one kind over VMs) keeps its per-VM lines
  const same = batchView(store.enqueueBatch(['a', 'b', 'c'].map((vm) => snapshotCreate(vm, 's'))), Date.now());
  assert.match(same.title, /and 2 more VMs$/);
  assert.ok(same.lines.some((l) => /^#\d+ b: /.test(l)));
});
