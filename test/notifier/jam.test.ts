import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/domain/logger.js';
import { Notifier } from '../../src/notifier/notifier.js';
import { alice, freshStore, vmStart } from '../jobs/helpers.js';
import { deferrals } from '../worker/helpers.js';
import { RecordingSink } from './recording-sink.js';

/** start() schedules the first pass on the next turn; stop() waits for it and starts no other. */
async function onePass(n: Notifier): Promise<void> {
  n.start();
  await new Promise((r) => setImmediate(r));
  await n.stop();
}

/**
 * The outbox must not jam: events for an adapter this process does not run (a shell session used
 * the database; this bot runs Discord only) are skipped past and kept, however many there are.
 * Reproduced on the old notifier: it read the oldest 500 pending events of any adapter, so with
 * 500 or more such events at the head nothing newer was ever delivered.
 */
test('10,000 pending events for an absent adapter, then one for the running one: delivered in the first pass; the others kept', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  const shellNotify = { adapter: 'shell', guildId: null, channelId: 'terminal' };
  store.db.transaction(() => {
    for (let i = 0; i < 10_000; i++) {
      store.enqueue({ kind: 'vm.start', payload: { host: 'local', vm: `shell-vm-${i}` }, requester: alice, notify: shellNotify });
    }
  })();
  const job = store.enqueue({
    kind: 'vm.start',
    payload: { host: 'local', vm: 'discord-vm' },
    requester: alice,
    notify: { adapter: 'discord', guildId: 'g1', channelId: 'ops' },
  });

  const sink = new RecordingSink(undefined, 'discord');
  const said: Array<Record<string, unknown>> = [];
  const logger = { ...silentLogger, info: (o: Record<string, unknown>, msg?: string) => said.push({ ...o, msg }) };
  const n = new Notifier({ outbox: store.outbox, store, sinks: [sink], logger, safetyPollMs: 60_000 });
  defer(() => n.stop());
  await onePass(n);
  assert.deepEqual(said, [{ adapter: 'shell', events: 10_000, msg: 'notifications kept for an adapter this process does not run' }]);

  assert.deepEqual(sink.edits.map((e) => [e.jobId, e.state]), [[job.id, 'queued']], 'the running adapter’s event is delivered in the first pass');
  const left = store.db.prepare(`SELECT count(*) AS n FROM job_events WHERE delivered_at IS NULL`).get() as { n: number };
  assert.equal(left.n, 10_000, 'the absent adapter’s events stay pending, for the process that runs it');
});

test('jobs that wait fill a whole page: the next page is read in the same pass; a job is taken with all its events', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  const sink = new RecordingSink();
  // Pages of 2 events; a progress-only edit waits a minute after the last edit.
  const n = new Notifier({ outbox: store.outbox, store, sinks: [sink], logger: silentLogger, safetyPollMs: 60_000, batchSize: 2, minProgressEditMs: 60_000 });
  defer(() => n.stop());
  const a = store.enqueue(vmStart('a'));
  const { lease } = store.claim('w', 60_000)!;
  await n.flush();
  assert.deepEqual(sink.edits.map((e) => [e.jobId, e.state]), [[a.id, 'running']]);

  for (const step of ['one', 'two', 'three']) store.progress(lease, { step });
  const b = store.enqueue(vmStart('b'));
  await onePass(n);
  assert.deepEqual(sink.edits.map((e) => [e.jobId, e.state]).slice(1), [[b.id, 'queued']], 'b is delivered; a’s progress waits');

  // a's progress fills the first page; its end is on the next: delivered at once, with them.
  store.complete(lease, { vm: 'a', state: 'running' });
  await onePass(n);
  assert.deepEqual(sink.edits.map((e) => [e.jobId, e.state]).slice(2), [[a.id, 'succeeded']]);
  assert.deepEqual(sink.announces.map((v) => [v.jobId, v.state]), [[a.id, 'succeeded']]);
  assert.equal(store.outbox.pending('shell', 10).length, 0);
});
