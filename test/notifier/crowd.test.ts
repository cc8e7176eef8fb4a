import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { SqliteJobStore } from '../../src/jobs/store.js';
import type { EnqueueRequest, Job, NotifyTarget } from '../../src/jobs/types.js';
import { CreateLedger, groupDueAt, joinsSummary } from '../../src/notifier/crowd.js';
import { IN_SUMMARY, Notifier, type NotifierOptions } from '../../src/notifier/notifier.js';
import { channelSummaryView, SUMMARY_TEXT_BUDGET } from '../../src/notifier/render.js';
import { PermanentSinkError, type StatusView } from '../../src/notifier/types.js';
import { silentLogger } from '../../src/domain/logger.js';
import { alice, bob, freshStore, openStore, tempDbFile, vmStart } from '../jobs/helpers.js';
import { deferrals, waitFor } from '../worker/helpers.js';
import { RecordingSink } from './recording-sink.js';

/**
 * A crowded channel (src/notifier/crowd.ts): beyond 3 live jobs with their own status message,
 * new jobs share one summary message; while it is live, completion mentions are grouped per
 * requester and name every job they cover; mentions keep to the sink's create limit.
 */

const fast: Partial<NotifierOptions> = {
  backoff: { baseMs: 10, maxMs: 40 },
  minProgressEditMs: 50,
  safetyPollMs: 50,
  crowd: { groupWindowMs: 300, summaryEditMs: 50 },
};

/** A sink that tells the notifier its platform's create limit, and records when it created. */
class LimitedSink extends RecordingSink {
  readonly creates: number[] = [];
  constructor(readonly createLimit?: { limit: number; windowMs: number }) {
    super();
  }
  override async upsertStatus(target: NotifyTarget, messageId: string | null, view: StatusView): Promise<string> {
    if (messageId === null) this.creates.push(Date.now());
    return super.upsertStatus(target, messageId, view);
  }
  override async announceEnd(target: NotifyTarget, view: StatusView): Promise<void> {
    this.creates.push(Date.now());
    return super.announceEnd(target, view);
  }
  /** Status messages that are a channel summary, by message id (latest view). */
  summaries(): Map<string, StatusView> {
    return new Map([...this.messages].filter(([, v]) => v.summary !== undefined));
  }
  /** Job ids that had a status message of their own. */
  ownMessages(): Set<number> {
    return new Set([...this.messages.values()].filter((v) => !v.summary).map((v) => v.jobId));
  }
}

function notifier(t: TestContext, store: SqliteJobStore, sink: RecordingSink, opts: Partial<NotifierOptions> = {}): Notifier {
  const defer = deferrals(t);
  const n = new Notifier({ outbox: store.outbox, store, approvals: store.approvals, sinks: [sink], logger: silentLogger, ...fast, ...opts });
  defer(() => n.stop());
  return n;
}

function job(i: number, requester = i % 2 === 0 ? alice : bob): EnqueueRequest {
  return { ...vmStart(`vm${i}`), requester };
}

/** Claims and finishes every queued job; the VM named `fails` fails. */
function runAll(store: SqliteJobStore, fails?: string): void {
  for (let c = store.claim('w', 30_000); c; c = store.claim('w', 30_000)) {
    if (c.job.payload.vm === fails) store.fail(c.lease, { code: 'vm-not-found', message: 'gone' }, { retry: false });
    else store.complete(c.lease, { vm: c.job.payload.vm, state: 'running' });
  }
}

async function drained(store: SqliteJobStore, n: Notifier): Promise<void> {
  await waitFor('outbox drained', () => store.outbox.pending('shell', 10_000).length === 0, 20_000);
  await n.flush();
}

/** Every announce's job ids: a grouped one's, or the job's own. */
function named(sink: RecordingSink): number[] {
  return sink.announces.flatMap((v) => (v.group ? v.group.map((j) => j.jobId) : [v.jobId]));
}

test('12 jobs at once in one channel: 3 own status messages, 1 summary with every other job, mentions grouped per requester', async (t) => {
  const store = freshStore(t);
  const sink = new LimitedSink();
  const n = notifier(t, store, sink);
  n.start();
  const jobs: Job[] = [];
  for (let i = 0; i < 12; i++) jobs.push(store.enqueue(job(i)));
  await drained(store, n);
  assert.deepEqual([...sink.ownMessages()].sort((a, b) => a - b), jobs.slice(0, 3).map((j) => j.id), 'the first three: their own message');
  const [summary, ...more] = [...sink.summaries().values()];
  assert.equal(more.length, 0, 'one summary');
  assert.deepEqual(summary!.summary!.jobIds, jobs.slice(3).map((j) => j.id));
  assert.equal(summary!.state, 'queued');
  for (const j of jobs.slice(3)) assert.ok(summary!.lines.some((l) => l.startsWith(`#${j.id} `) && l.includes(': queued')), `job #${j.id} has its line`);
  assert.equal(store.get(jobs[5]!.id)!.statusMessageId, IN_SUMMARY, 'stored: the job reports in a summary');

  runAll(store, 'vm7');
  await drained(store, n);
  const final = [...sink.summaries().values()][0]!;
  assert.equal(final.state, 'failed');
  assert.match(final.lines[0]!, /9 jobs in this channel's summary: 8 succeeded, 1 failed/);
  assert.ok(final.lines.some((l) => l.startsWith(`#${jobs[7]!.id} `) && /failed in .* — vm-not-found: gone/.test(l)), final.lines.join('\n'));
  for (const j of jobs.slice(0, 3)) assert.equal(sink.messages.get(store.get(j.id)!.statusMessageId!)!.state, 'succeeded', `job #${j.id}: its own message shows the end`);
  // Every job named by exactly one mention, to its requester; a grouped one names only theirs.
  assert.deepEqual(named(sink).sort((a, b) => a - b), jobs.map((j) => j.id));
  for (const v of sink.announces) {
    for (const id of v.group ? v.group.map((j) => j.jobId) : [v.jobId]) assert.equal(store.get(id)!.requester.id, v.requester.id);
  }
  t.diagnostic(JSON.stringify(sink.announces.map((v) => [v.requester.name, v.group?.map((j) => j.jobId) ?? v.jobId])));
  assert.ok(sink.announces.length <= 4, `grouped: ${sink.announces.length} mentions for 12 jobs of 2 requesters`);
  const failed = sink.announces.find((v) => v.group?.some((j) => j.jobId === jobs[7]!.id));
  assert.equal(failed?.state, 'failed');
  assert.equal(failed?.group?.find((j) => j.jobId === jobs[7]!.id)?.error?.code, 'vm-not-found');
});

test('below the threshold nothing changes: 3 jobs, 3 own messages, 3 own mentions', async (t) => {
  const store = freshStore(t);
  const sink = new LimitedSink();
  const n = notifier(t, store, sink);
  n.start();
  const jobs = [0, 1, 2].map((i) => store.enqueue(job(i)));
  await drained(store, n);
  runAll(store);
  await drained(store, n);
  assert.equal(sink.summaries().size, 0);
  assert.deepEqual(sink.announces.map((v) => [v.jobId, v.group]), jobs.map((j) => [j.id, undefined]));
});

test('crowd: false — every job its own message and mention, however many', async (t) => {
  const store = freshStore(t);
  const sink = new LimitedSink();
  const n = notifier(t, store, sink, { crowd: false });
  n.start();
  for (let i = 0; i < 8; i++) store.enqueue(job(i));
  runAll(store);
  await drained(store, n);
  assert.equal(sink.summaries().size, 0);
  assert.equal(sink.ownMessages().size, 8);
  assert.equal(sink.announces.filter((v) => !v.group).length, 8);
});

test('after a restart a job whose line was in a summary reports in a summary again, never in a message of its own', async (t) => {
  const file = tempDbFile(t);
  const store = openStore(t, file);
  const sink = new LimitedSink();
  const first = notifier(t, store, sink);
  first.start();
  const jobs = [0, 1, 2, 3, 4].map((i) => store.enqueue(job(i)));
  await drained(store, first);
  await first.stop();
  assert.deepEqual([...sink.ownMessages()].sort((a, b) => a - b), jobs.slice(0, 3).map((j) => j.id));
  // A new process: nothing in memory. The first three end; the last two are then alone.
  const second = notifier(t, store, sink);
  second.start();
  runAll(store);
  await drained(store, second);
  assert.deepEqual([...sink.ownMessages()].sort((a, b) => a - b), jobs.slice(0, 3).map((j) => j.id), 'no own message for #4, #5');
  const summaries = [...sink.summaries().values()];
  for (const j of jobs.slice(3)) {
    assert.ok(summaries.some((v) => v.lines.some((l) => l.startsWith(`#${j.id} `) && l.includes('succeeded'))), `job #${j.id}: its end in a summary`);
  }
  assert.deepEqual(named(sink).sort((a, b) => a - b), jobs.map((j) => j.id), 'each job named by one mention');
});

test('mentions keep to the sink’s create limit: never more than 3 creates in any 400 ms', async (t) => {
  const store = freshStore(t);
  const sink = new LimitedSink({ limit: 3, windowMs: 400 });
  const n = notifier(t, store, sink, { crowd: { threshold: 2, groupWindowMs: 100, summaryEditMs: 20 } });
  n.start();
  const requesters = [alice, bob, { id: '300', name: 'carol' }, { id: '400', name: 'dave' }];
  for (let i = 0; i < 12; i++) store.enqueue(job(i, requesters[i % 4]));
  await drained(store, n);
  runAll(store);
  await drained(store, n);
  assert.equal(named(sink).length, 12);
  const times = sink.creates.sort((a, b) => a - b);
  for (let i = 3; i < times.length; i++) assert.ok(times[i]! - times[i - 3]! >= 400 - 5, `creates ${i - 3}..${i} within ${times[i]! - times[i - 3]!} ms`);
  assert.ok(sink.announces.length >= 4, 'one mention per requester at least');
});

test('crowd policy: ledger, who joins the summary, when a grouped mention is due', () => {
  const ledger = new CreateLedger({ limit: 2, windowMs: 1000 });
  assert.equal(ledger.nextFreeAt(0), 0);
  ledger.record(0);
  ledger.record(100);
  assert.equal(ledger.count(500), 2);
  assert.equal(ledger.nextFreeAt(500), 1000);
  assert.equal(ledger.nextFreeAt(1000), 1000, 'the first create aged out at 1000');
  assert.equal(ledger.count(1100), 0);
  const unlimited = new CreateLedger(undefined);
  for (let i = 0; i < 100; i++) unlimited.record(0);
  assert.equal(unlimited.nextFreeAt(0), 0);

  assert.equal(joinsSummary({ live: 2, burstArriving: false }, { threshold: 3 }), false);
  assert.equal(joinsSummary({ live: 3, burstArriving: false }, { threshold: 3 }), true);
  assert.equal(joinsSummary({ live: 0, burstArriving: true }, { threshold: 3 }), true, 'a burst still arriving keeps joining the summary');

  const policy = { groupWindowMs: 15_000 };
  assert.equal(groupDueAt({ firstEndAt: 1000 }, { requesterLive: true, now: 2000, createFreeAt: 2000 }, policy), 16_000);
  assert.equal(groupDueAt({ firstEndAt: 1000 }, { requesterLive: false, now: 2000, createFreeAt: 2000 }, policy), 2000);
  assert.equal(groupDueAt({ firstEndAt: 1000 }, { requesterLive: false, now: 2000, createFreeAt: 4000 }, policy), 4000);
});

test('a summary of 150 jobs fits one message: ended and queued jobs listed by id under their state', () => {
  const now = 1_765_000_000_000;
  const jobs: Job[] = Array.from({ length: 150 }, (_, i) => ({
    id: i + 1,
    requestId: `r${i + 1}`,
    kind: 'vm.start',
    payload: { host: 'local', vm: `a-rather-long-vm-name-${i + 1}` },
    state: i < 2 ? 'running' : i < 60 ? 'queued' : i === 70 ? 'failed' : 'succeeded',
    priority: 0,
    attempts: 1,
    maxAttempts: 3,
    runAt: now,
    lockedBy: null,
    lockedUntil: null,
    fencingToken: 0,
    heartbeatAt: null,
    cancelRequested: false,
    recovered: false,
    progress: null,
    result: i >= 60 ? { vm: `a-rather-long-vm-name-${i + 1}`, state: 'running' } : null,
    error: i === 70 ? { code: 'vm-not-found', message: 'gone' } : null,
    requester: alice,
    notify: { adapter: 'shell', guildId: null, channelId: 'ops' },
    statusMessageId: IN_SUMMARY,
    createdAt: now,
    updatedAt: now,
    startedAt: i < 2 || i >= 60 ? now - 1000 : null,
    finishedAt: i >= 60 ? now : null,
    batchId: null,
  }) as unknown as Job);
  const view = channelSummaryView(jobs);
  const text = view.lines.join('\n');
  assert.ok(text.length <= SUMMARY_TEXT_BUDGET + 400, `${text.length} characters`);
  for (const j of jobs) assert.match(text, new RegExp(`#${j.id}\\b`), `job #${j.id} is shown`);
  assert.match(text, /failed: #71 \(vm-not-found\)/);
  assert.match(text, /queued: #3 #4 /);
  assert.equal(view.summary?.ended, 90);
});

test('a grouped mention the chat refuses for good (channel gone): every job of the group is dropped, nothing retries forever', async (t) => {
  const store = freshStore(t);
  let attempts = 0;
  class GoneOnAnnounce extends LimitedSink {
    override async announceEnd(): Promise<void> {
      attempts++;
      throw new PermanentSinkError('Unknown Channel');
    }
  }
  const sink = new GoneOnAnnounce();
  const n = notifier(t, store, sink);
  n.start();
  for (let i = 0; i < 8; i++) store.enqueue(job(i, alice));
  await drained(store, n);
  runAll(store);
  await drained(store, n);
  assert.equal(store.outbox.pending('shell', 100).length, 0);
  assert.ok(n.stats.dropped >= 1);
  assert.equal(attempts, 1, 'one attempt for the group, not one per job');
});

test('a summary left with one long job takes no new jobs once the burst is over: the next job has its own message again', async (t) => {
  const store = freshStore(t);
  const sink = new LimitedSink();
  const n = notifier(t, store, sink);
  n.start();
  const jobs = [0, 1, 2, 3, 4].map((i) => store.enqueue(job(i)));
  await drained(store, n);
  // The first four end; the fifth (in the summary) stays queued, like a long deploy.
  for (let i = 0; i < 4; i++) {
    const c = store.claim('w', 30_000)!;
    store.complete(c.lease, { vm: c.job.payload.vm, state: 'running' });
  }
  await drained(store, n);
  await new Promise((r) => setTimeout(r, 400)); // past the 300 ms window: the burst is over
  const late = store.enqueue(job(9));
  await waitFor('the late job shown', () => sink.ownMessages().has(late.id) || [...sink.summaries().values()].some((v) => v.summary!.jobIds.includes(late.id)), 5_000);
  assert.ok(sink.ownMessages().has(late.id), 'its own message: the channel has 1 live job, not a crowd');
  assert.ok([...sink.summaries().values()].some((v) => v.summary!.jobIds.includes(jobs[4]!.id) && v.state === 'queued'), 'the long job keeps its summary line');
});

test('a chat down for its first 30 calls while 12 jobs run and end: afterwards every job is shown ended and named by exactly one mention', async (t) => {
  const store = freshStore(t);
  const sink = new LimitedSink();
  sink.failing = (call) => call <= 30;
  const n = notifier(t, store, sink);
  n.start();
  const jobs: Job[] = [];
  for (let i = 0; i < 12; i++) {
    jobs.push(store.enqueue(job(i)));
    runAll(store, i % 5 === 0 ? `vm${i}` : undefined);
  }
  await drained(store, n);
  assert.ok(sink.failedCalls >= 1, 'the sink did fail');
  assert.deepEqual(named(sink).sort((a, b) => a - b), jobs.map((j) => j.id), 'each job named once');
  const summaries = [...sink.summaries().values()];
  for (const j of jobs) {
    const final = store.get(j.id)!;
    if (sink.ownMessages().has(j.id)) assert.equal(sink.messages.get(final.statusMessageId!)!.state, final.state, `job #${j.id}: its message shows the end`);
    else assert.ok(summaries.some((v) => v.lines.some((l) => l.startsWith(`#${j.id} `) && l.includes(final.state))), `job #${j.id}: its end in a summary`);
  }
  assert.ok(sink.ownMessages().size <= 3, `${sink.ownMessages().size} own messages`);
});

test('a person’s commands one after another (each shown queued, then ended) keep their own messages, however many', async (t) => {
  const store = freshStore(t);
  const sink = new LimitedSink();
  const n = notifier(t, store, sink);
  n.start();
  const jobs: Job[] = [];
  for (let i = 0; i < 6; i++) {
    jobs.push(store.enqueue(job(i, alice)));
    await drained(store, n);
    runAll(store);
    await drained(store, n);
  }
  assert.equal(sink.summaries().size, 0);
  assert.deepEqual([...sink.ownMessages()].sort((a, b) => a - b), jobs.map((j) => j.id));
  assert.deepEqual(sink.announces.map((v) => [v.jobId, v.group]), jobs.map((j) => [j.id, undefined]));
});
