/**
 * Scheduled snapshots (issue 25) on the REAL job store (SQLite files) with a drivable clock: the
 * command's refusals, due / not due, the one catch-up run after downtime, two schedulers on one
 * database file (two connections) running a schedule once, delete stopping future runs, and
 * retention — only what the schedule recorded as its own, oldest first, beyond `keep`. Hosts are
 * the command layer's in-memory double (test/commands/fixture.ts); the real libvirt run is
 * test/adapters/shell/schedules.libvirt.test.ts.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Scheduler, autoSnapshotName } from '../../src/chat/scheduler.js';
import { createServices } from '../../src/chat/services.js';
import { withNames } from '../../src/chat/people.js';
import { nextRunAt } from '../../src/jobs/schedule-claim.js';
import { openJobStore, type SqliteJobStore } from '../../src/jobs/store.js';
import type { Job } from '../../src/jobs/types.js';
import { PLACE, USERS, fixtureUuid, makeWorld, type World } from '../commands/fixture.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

let w: World;
let scheduler: Scheduler;
beforeEach(() => {
  w = makeWorld({ rateLimit: { capacity: 1000 } });
  for (const vm of ['web-02', 'web-03']) w.hv.inv('local').vms.set(vm, 'shut off');
  scheduler = new Scheduler({ services: w.services, now: () => w.clock.now() });
});
afterEach(() => w.close());

const text = (r: { title: string; lines: string[] }) => withNames([r.title, ...r.lines].join('\n'));
const scheduleRows = () => (w.store.db.prepare('SELECT count(*) FROM schedules').pluck().get() as number);

async function create(options: Record<string, string | number>): Promise<number> {
  const reply = await w.run(USERS.alice, 'schedule', 'create', options);
  assert.equal(reply.code, undefined, JSON.stringify(reply));
  return Number(/Schedule #(\d+) created/.exec(reply.title)![1]);
}

describe('/schedule create refuses what the contract does not allow, and stores nothing', () => {
  const cases: Array<[string, Record<string, string | number>, RegExp]> = [
    ['every under a minute', { vm: 'web-*', every: '30s', keep: 2 }, /every: at least 1m \(one minute\); 30s is shorter/],
    ['every not a period', { vm: 'web-*', every: 'daily', keep: 2 }, /every: a period like 30m, 6h or 1d/],
    ['keep 0', { vm: 'web-*', every: '1h', keep: 0 }, /keep:/],
    ['keep 101', { vm: 'web-*', every: '1h', keep: 101 }, /keep:/],
    ['a bad pattern', { vm: 'web-[12]*', every: '1h', keep: 2 }, /vm: a pattern is up to 63 characters/],
    ['a bad name', { vm: 'web;reboot', every: '1h', keep: 2 }, /vm:/],
  ];
  for (const [label, options, re] of cases) {
    it(label, async () => {
      const reply = await w.run(USERS.alice, 'schedule', 'create', options);
      assert.equal(reply.code, 'invalid-input', JSON.stringify(reply));
      assert.equal(reply.visibility, 'ephemeral');
      assert.match(text(reply), re);
      assert.equal(scheduleRows(), 0, 'no schedule row');
    });
  }

  it('a name (no wildcard) must name a VM now: vm-not-found, no row; a pattern may match none yet', async () => {
    const reply = await w.run(USERS.alice, 'schedule', 'create', { vm: 'web-99', every: '1h', keep: 2 });
    assert.equal(reply.code, 'vm-not-found', JSON.stringify(reply));
    assert.equal(scheduleRows(), 0);
    const ok = await w.run(USERS.alice, 'schedule', 'create', { vm: 'later-*', every: '1h', keep: 2 });
    assert.equal(ok.code, undefined, JSON.stringify(ok));
    assert.match(text(ok), /matching "later-\*" at that moment \(0 now; internal\)/);
    assert.match(text(await w.run(USERS.alice, 'schedule', 'create', { vm: 'web-*', every: '1h', keep: 2 })), /\(3 now; internal\), named auto-2-<UTC yyyymmdd-hhmm>/);
  });

  it('an unknown host: host-not-found, no row; a viewer may not create: forbidden, no row', async () => {
    assert.equal((await w.run(USERS.alice, 'schedule', 'create', { vm: 'web-*', every: '1h', keep: 2, host: 'mars' })).code, 'host-not-found');
    assert.equal((await w.run(USERS.carol, 'schedule', 'create', { vm: 'web-*', every: '1h', keep: 2 })).code, 'forbidden');
    assert.equal(scheduleRows(), 0);
  });

  it('the store refuses the same numbers from any caller (every < 1m, keep outside 1–100), nothing written', () => {
    const spec = { host: 'local', pattern: 'web-*', kind: 'internal' as const, creator: { id: 'a', name: 'a' }, notify: PLACE };
    for (const bad of [{ everyMs: MIN - 1, keep: 2 }, { everyMs: HOUR, keep: 0 }, { everyMs: HOUR, keep: 101 }]) {
      assert.throws(() => w.store.schedules.create({ ...spec, ...bad }), /invalid-input|bad schedule/);
    }
    assert.equal(scheduleRows(), 0);
  });

  it('accepted at the boundaries (1m, keep 1 and 100); list shows them to a viewer', async () => {
    await create({ vm: 'web-*', every: '1m', keep: 1 });
    await create({ vm: 'db', every: '1d', keep: 100, kind: 'external' });
    const list = await w.run(USERS.carol, 'schedule', 'list', {});
    assert.equal(list.code, undefined);
    assert.match(text(list), /Schedules \(2\)/);
    assert.match(text(list), /#1 web-\* on local · every 1m · keep 1 · internal · next .* · not run yet · by alice/);
    assert.match(text(list), /#2 db on local · every 24h · keep 100 · external/);
  });
});

describe('runs', () => {
  it('not due before its period, due at it: ONE quiet batch of the VMs matching then, named auto-<id>-<UTC yyyymmdd-hhmm>', async () => {
    const t0 = w.clock.now();
    const id = await create({ vm: 'web-*', every: '1h', keep: 2 });
    w.clock.advance(HOUR - 1);
    assert.deepEqual((await scheduler.tick()).runs, []);
    assert.equal(w.jobCount(), 0);
    w.clock.advance(1);
    const { runs } = await scheduler.tick();
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.name, `auto-${id}-20250501-1300`);
    assert.equal(autoSnapshotName(id, t0 + HOUR), runs[0]!.name);
    const jobs = w.store.batch(runs[0]!.batchId!);
    assert.deepEqual(jobs.map((j) => [j.kind, j.payload.vm, j.payload.name, j.payload.vmUuid]), ['web-01', 'web-02', 'web-03'].map((vm) => ['snapshot.create', vm, runs[0]!.name, fixtureUuid(vm)]));
    assert.ok(jobs.every((j) => j.quiet && j.requester.id === 'alice' && j.notify.channelId === PLACE.channelId), 'quiet, the creator\'s, where it was made');
    // The next one is a period after the one due, not after the tick.
    assert.equal(w.store.schedules.get(id)!.nextRunAt, t0 + 2 * HOUR);
    assert.deepEqual((await scheduler.tick()).runs, [], 'not twice in one period');
  });

  it('a VM added between runs is in the next run; a name (no wildcard) is that VM alone', async () => {
    await create({ vm: 'web-*', every: '1h', keep: 2 });
    await create({ vm: 'web-01', every: '1h', keep: 2 });
    w.clock.advance(HOUR);
    const first = (await scheduler.tick()).runs;
    assert.deepEqual(first.map((r) => w.store.batch(r.batchId!).length), [3, 1]);
    finishAll();
    w.hv.inv('local').vms.set('web-04', 'running');
    await w.catalog.vmsMatching('local', 'web-*', 50, { fresh: true });
    w.clock.advance(HOUR);
    const second = (await scheduler.tick()).runs;
    assert.deepEqual(w.store.batch(second[0]!.batchId!).map((j) => j.payload.vm), ['web-01', 'web-02', 'web-03', 'web-04']);
    assert.deepEqual(w.store.batch(second[1]!.batchId!).map((j) => j.payload.vm), ['web-01']);
  });

  it('after downtime: ONE catch-up run at start-up, not one per missed period; the next a period later', async () => {
    const id = await create({ vm: 'web-*', every: '1h', keep: 2 });
    w.clock.advance(10 * HOUR + 17 * MIN); // ten periods missed
    const { runs } = await scheduler.tick();
    assert.equal(runs.length, 1);
    assert.equal(w.store.schedules.get(id)!.nextRunAt, w.clock.now() + HOUR);
    for (let i = 0; i < 3; i++) assert.deepEqual((await scheduler.tick()).runs, []);
    assert.equal(w.store.db.prepare(`SELECT count(DISTINCT batch_id) FROM jobs`).pluck().get(), 1);
  });

  it('a restart after downtime: the new process\'s timer makes the ONE catch-up run shortly after start', async () => {
    const id = await create({ vm: 'web-*', every: '1h', keep: 2 });
    w.clock.advance(HOUR);
    await scheduler.tick(); // the run before the "crash"
    w.clock.advance(7 * HOUR); // down for seven periods
    const restarted: SqliteJobStore = openJobStore(w.store.db.name, { now: () => w.clock.now() });
    const again = new Scheduler({
      services: createServices({ store: restarted, hypervisor: w.hv, config: { twoPerson: true, approvalTtlMs: HOUR, guildId: null }, now: () => w.clock.now() }),
      now: () => w.clock.now(),
      firstAfterMs: 0,
      tickMs: 20,
    });
    try {
      again.start();
      const deadline = Date.now() + 5_000;
      while (w.store.schedules.get(id)!.nextRunAt !== w.clock.now() + HOUR && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 200)); // ten more ticks of the timer: none runs it again
    } finally {
      await again.stop();
      restarted.close();
    }
    assert.equal(w.store.db.prepare(`SELECT count(DISTINCT batch_id) FROM jobs`).pluck().get(), 2, 'the run before, and one catch-up');
    assert.equal(w.store.schedules.get(id)!.nextRunAt, w.clock.now() + HOUR);
  });

  it('runs of one schedule never share a minute (names never repeat), even when a tick is late', () => {
    // Due 10:00:30, claimed 10:01:10 (late): on the grid the next would be 10:01:30, the same minute.
    const seen = Date.UTC(2025, 4, 1, 10, 0, 30);
    const now = seen + 40_000;
    const next = nextRunAt(seen, MIN, now);
    assert.ok(next - now >= MIN);
    assert.notEqual(autoSnapshotName(1, next), autoSnapshotName(1, now));
    assert.equal(nextRunAt(seen, HOUR, seen + 5_000), seen + HOUR, 'on time: stays on the grid');
  });

  it('delete stops future runs; deleting one that is not there is schedule-not-found', async () => {
    const id = await create({ vm: 'web-*', every: '1h', keep: 2 });
    const del = await w.run(USERS.alice, 'schedule', 'delete', { id });
    assert.equal(del.code, undefined, JSON.stringify(del));
    assert.match(text(del), new RegExp(`Schedule #${id} deleted`));
    w.clock.advance(5 * HOUR);
    assert.deepEqual((await scheduler.tick()).runs, []);
    assert.equal(w.jobCount(), 0);
    assert.equal((await w.run(USERS.alice, 'schedule', 'delete', { id })).code, 'schedule-not-found');
    assert.equal((await w.run(USERS.carol, 'schedule', 'delete', { id })).code, 'forbidden');
  });

  it('a host unreachable at the run: no batch this period, said in /schedule list; the next period runs', async () => {
    const id = await create({ vm: 'web-*', every: '1h', keep: 2 });
    w.hv.mode = 'unreachable';
    w.clock.advance(HOUR);
    assert.deepEqual((await scheduler.tick()).runs.map((r) => r.batchId), [null]);
    assert.match(text(await w.run(USERS.carol, 'schedule', 'list', {})), /last .* \(host-unreachable: cannot connect to local\)/);
    assert.equal(w.store.schedules.openRuns(10).length, 0);
    w.hv.mode = 'ok';
    w.clock.advance(HOUR);
    const { runs } = await scheduler.tick();
    assert.equal(w.store.batch(runs[0]!.batchId!).length, 3);
    assert.equal(w.store.schedules.get(id)!.lastBatchId, runs[0]!.batchId);
  });

  it('a pattern matching nothing makes no batch and says so in /schedule list', async () => {
    await create({ vm: 'nothing-*', every: '1h', keep: 2 });
    w.clock.advance(HOUR);
    const { runs } = await scheduler.tick();
    assert.deepEqual(runs.map((r) => r.batchId), [null]);
    assert.equal(w.jobCount(), 0);
    assert.match(text(await w.run(USERS.carol, 'schedule', 'list', {})), /no VM matched nothing-\*/);
    assert.equal(w.store.schedules.openRuns(10).length, 0, 'nothing left open');
  });
});

describe('a run and its batch are written together', () => {
  it('enqueueRun: the batch and its record in one transaction; a refused batch leaves neither', async () => {
    const id = await create({ vm: 'web-*', every: '1h', keep: 2 });
    w.clock.advance(HOUR);
    const run = w.store.schedules.claim(id, w.store.schedules.get(id)!.nextRunAt, w.clock.now())!;
    const req = (vm: string) => ({ kind: 'snapshot.create' as const, payload: { host: 'local', vm, name: 'auto-1-x', kind: 'internal' }, requester: { id: 'alice', name: 'alice' }, notify: PLACE, quiet: true });
    // A bad payload in the batch: refused whole, and the run still names no batch.
    assert.throws(() => w.store.schedules.enqueueRun(run.id, [req('web-01'), req('bad name')], '2 VMs'), /invalid-input|bad snapshot.create payload/);
    assert.equal(w.jobCount(), 0);
    assert.deepEqual(w.store.schedules.openRuns(10).map((r) => r.batchId), [null]);
    assert.equal(w.store.schedules.get(id)!.lastBatchId, null);
    const jobs = w.store.schedules.enqueueRun(run.id, [req('web-01'), req('web-02')], '2 VMs');
    assert.deepEqual(w.store.schedules.openRuns(10).map((r) => r.batchId), [jobs[0]!.id]);
    assert.equal(w.store.schedules.get(id)!.lastBatchId, jobs[0]!.id);
    assert.equal(w.store.schedules.get(id)!.lastNote, '2 VMs');
  });
});

describe('two schedulers on one database file (two connections) run a schedule once', () => {
  it('both see it due at the same moment; one claims it, the other finds it taken', async () => {
    const id = await create({ vm: 'web-*', every: '1h', keep: 2 });
    const other: SqliteJobStore = openJobStore(w.store.db.name, { now: () => w.clock.now() });
    try {
      const services = createServices({
        store: other,
        hypervisor: w.hv,
        config: { twoPerson: true, approvalTtlMs: HOUR, guildId: null },
        now: () => w.clock.now(),
      });
      const second = new Scheduler({ services, now: () => w.clock.now() });
      assert.notEqual(other.db, w.store.db);
      w.clock.advance(HOUR);
      // Started together: each reads the due schedule before either claims it.
      const [a, b] = await Promise.all([scheduler.tick(), second.tick()]);
      assert.equal(a.runs.length + b.runs.length, 1, JSON.stringify({ a: a.runs, b: b.runs }));
      assert.equal(w.jobCount(), 3, 'one batch of three, not two');
      assert.equal(w.store.db.prepare(`SELECT count(DISTINCT batch_id) FROM jobs`).pluck().get(), 1);
      // And at the next period, again one of the two.
      w.clock.advance(HOUR);
      const [c, d] = await Promise.all([second.tick(), scheduler.tick()]);
      assert.equal(c.runs.length + d.runs.length, 1);
      assert.equal(w.store.schedules.get(id)!.lastBatchId, [...c.runs, ...d.runs][0]!.batchId);
    } finally {
      other.close();
    }
  });
});

/** Each live job of the store ends as the worker would: a snapshot made (its libvirt creation time from the fixture host), a delete done. */
function finishAll(): Job[] {
  const done: Job[] = [];
  for (;;) {
    const claimed = w.store.claim('test', 60_000);
    if (!claimed) return done;
    const { job, lease } = claimed;
    const p = job.payload as { vm: string; name: string };
    const snaps = w.hv.inv('local').snapshots;
    if (job.kind === 'snapshot.create') {
      const list = snaps.get(p.vm) ?? [];
      list.push({ name: p.name, parent: list.at(-1)?.name ?? null });
      snaps.set(p.vm, list);
      // The fixture host's creation times are 1_700_000_000 + the snapshot's index.
      done.push(w.store.complete(lease, { snapshot: { vm: p.vm, name: p.name, kind: 'internal', createdAt: 1_700_000_000 + list.length - 1 } }));
    } else {
      snaps.set(p.vm, (snaps.get(p.vm) ?? []).filter((s) => s.name !== p.name));
      done.push(w.store.complete(lease, { deleted: { vm: p.vm, snapshot: p.name } }));
    }
  }
}

describe('retention: only what the schedule made, oldest first, beyond keep', () => {
  it('keep 2 over three runs: the oldest auto snapshot of each VM is deleted; a hand-made auto-<id>-… and others stay', async () => {
    const sid = await create({ vm: 'web-0?', every: '1h', keep: 2 });
    // A hand-made snapshot named like this schedule's, older than all of them: never its own.
    const snaps = w.hv.inv('local').snapshots;
    snaps.set('web-02', [{ name: `auto-${sid}-20000101-0000`, parent: null }]);
    const names: string[] = [];
    for (let i = 0; i < 3; i++) {
      w.clock.advance(HOUR);
      const { runs } = await scheduler.tick();
      names.push(runs[0]!.name);
      finishAll();
      // The catalog's host reads are cached: a fresh read sees the new snapshots.
      const { retained } = await scheduler.tick();
      assert.equal(retained.length, 1);
      if (i < 2) assert.deepEqual(retained[0]!.deletes, [], `run ${i + 1}: nothing beyond keep yet`);
      else assert.equal(retained[0]!.deletes.length, 3, 'run 3: one delete per VM');
    }
    const deletes = finishAll();
    assert.deepEqual(deletes.map((j) => [j.kind, j.payload.name, j.payload.keepIfNeeded, j.batchId]).sort(), ['web-01', 'web-02', 'web-03'].map(() => ['snapshot.delete', names[0], true, deletes[0]!.batchId]));
    for (const vm of ['web-01', 'web-02', 'web-03']) {
      const left = (snaps.get(vm) ?? []).map((s) => s.name).filter((n) => n.startsWith(`auto-${sid}-`));
      assert.deepEqual(left, vm === 'web-02' ? [`auto-${sid}-20000101-0000`, names[1], names[2]] : [names[1], names[2]], vm);
    }
    assert.ok(snaps.get('web-01')!.some((s) => s.name === 'clean'), "another snapshot of the VM is not the schedule's");
    // The deletes joined the third run's batch: one status message per run.
    const third = w.store.schedules.get(sid)!.lastBatchId!;
    assert.equal(deletes[0]!.batchId, third);
    assert.ok(w.store.batch(third).every((j) => j.quiet));
  });

  it('a snapshot a live job names (a revert waiting for approval) is kept', async () => {
    const sid = await create({ vm: 'web-01', every: '1h', keep: 1 });
    w.clock.advance(HOUR);
    const first = (await scheduler.tick()).runs[0]!.name;
    finishAll();
    await scheduler.tick();
    const revert = await w.run(USERS.alice, 'snapshot', 'revert', { vm: 'web-01', name: first });
    assert.equal(revert.code, undefined, JSON.stringify(revert));
    w.clock.advance(HOUR);
    await scheduler.tick();
    finishAll();
    const { retained } = await scheduler.tick();
    assert.deepEqual(retained.map((r) => [r.scheduleId, r.deletes]), [[sid, []]], 'the revert needs it');
  });
});
