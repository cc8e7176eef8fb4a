/**
 * A schedule on the real clock (issue 25: "once for real in CI"), with the bot killed in the
 * middle of a run: `/schedule create vm:PREFIX-web-* every:1m keep:2` in the terminal chat, no
 * drivable clock. The first run happens about a minute later; as soon as the second run's batch
 * is in the database the shell is SIGKILLed (its jobs queued or running, its retention not yet
 * done) and a new shell starts on the same database. The new process's worker finishes the
 * killed run's jobs (each snapshot taken once: libvirt's name check and the kind's recovery),
 * its scheduler does the killed run's retention, and the third run comes on time. At the end:
 * three runs in the database (never a second one for a period), each VM holds exactly the two
 * newest auto snapshots, and a snapshot made by hand is untouched.
 *
 * About four minutes of wall clock, mostly waiting for the minute to turn.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openJobStore } from '../../../src/jobs/store.js';
import type { Job } from '../../../src/jobs/types.js';
import { skipUnlessLibvirt, virsh, type LibvirtTestEnv } from '../../helpers/libvirt.js';
import { goldenShellLab, ShellDriver } from './driver.js';

const opts = skipUnlessLibvirt();
let lab: LibvirtTestEnv;
let db: string;
let env: Record<string, string>;

before(() => {
  if (opts.skip) return;
  ({ lab, db, env } = goldenShellLab('schedrt'));
});
after(() => lab?.cleanup());

/**
 * The schedule's runs, oldest first: the batches of its snapshot jobs (named auto-<id>-…). The
 * runs table keeps a run only until its retention is done, so the jobs are the record.
 */
function runsOf(id: number): Array<{ batch: number; at: number; jobs: Job[] }> {
  return [...autoBatches(id)]
    .filter(([, jobs]) => jobs.some((j) => j.kind === 'snapshot.create'))
    .sort(([a], [b]) => a - b)
    .map(([batch, jobs]) => ({ batch, at: Math.min(...jobs.map((j) => j.createdAt)), jobs }));
}

/** The batches of this schedule's runs: snapshot jobs named auto-<id>-…, newest last. */
function autoBatches(id: number): Map<number, Job[]> {
  const store = openJobStore(db);
  try {
    const out = new Map<number, Job[]>();
    for (const j of store.list({ limit: 500 }).reverse()) {
      if (j.batchId === null || !String(j.payload.name ?? '').startsWith(`auto-${id}-`)) continue;
      out.set(j.batchId, [...(out.get(j.batchId) ?? []), j]);
    }
    return out;
  } finally {
    store.close();
  }
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const autoOf = (vm: string, id: number) =>
  virsh('snapshot-list', vm, '--name')
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s.startsWith(`auto-${id}-`))
    .sort();

test('every:1m keep:2 on the real clock, the bot killed in the middle of a run', { ...opts, timeout: 9 * 60_000 }, async () => {
  const shellArgs = ['--as', 'alice', '--roles', 'operator,admin'];
  let sh = new ShellDriver(shellArgs, env);
  try {
    await sh.expect(/Type help\./);
    const base = lab.vmName('base');
    const web = lab.vmName('web');
    await sh.say(`/template create vm:${lab.vmName('golden')} name:${base} seal:false`, /@alice: job #\d+ succeeded/);
    await sh.say(`/deploy template:${base} name:${web} count:2 mode:thin`, /@alice: job #\d+ succeeded/);
    const vms = [`${web}-01`, `${web}-02`];
    await sh.say(`/snapshot create vm:${web}-01 name:by-hand`, /@alice: job #\d+ succeeded/);
    const created = await sh.say(`/schedule create vm:${web}-* every:1m keep:2`, /Schedule #(\d+) created/);
    const id = Number(created[1]);
    const t0 = Date.now();

    // Run 1, on the real clock: about a minute after the schedule was made (the timer looks
    // every 15 s), then its two snapshots end.
    await until('run 1', () => (runsOf(id).length >= 1 ? true : undefined), 110_000);
    const first = runsOf(id)[0]!;
    assert.ok(first.at - t0 >= 55_000, `run 1 came a period after creation (${first.at - t0} ms)`);

    // Run 2: kill the bot the moment its batch exists — its jobs queued or running, its
    // retention (run 1 is not yet beyond keep, but the open run must be finished by someone)
    // left to the next process.
    await until('run 2 enqueued', () => (runsOf(id).length >= 2 ? true : undefined), 110_000, 50);
    sh.child.kill('SIGKILL');
    await new Promise<void>((resolve) => (sh.child.exitCode !== null || sh.child.signalCode !== null ? resolve() : sh.child.once('exit', () => resolve())));
    const run2Batch = runsOf(id)[1]!.batch;
    const run2AtKill = autoBatches(id).get(run2Batch) ?? [];
    assert.ok(
      run2AtKill.some((j) => j.finishedAt === null),
      `the kill came in the middle of run 2: ${run2AtKill.map((j) => `#${j.id} ${j.state}`).join(', ')}`,
    );

    // A new bot on the same database: it finishes run 2 (expired leases reclaimed) and makes run 3.
    sh = new ShellDriver(shellArgs, env);
    await sh.expect(/Type help\./);
    await until('run 3 with its retention', () => {
      const runs = runsOf(id);
      if (runs.length < 3) return undefined;
      const third = runs[2]!.jobs;
      const deletes = third.filter((j) => j.kind === 'snapshot.delete');
      return deletes.length === 2 && third.every((j) => j.finishedAt !== null) ? true : undefined;
    }, 150_000, 500);

    const runs = runsOf(id);
    assert.equal(runs.length, 3, `three runs, one per period: ${JSON.stringify(runs)}`);
    const batches = autoBatches(id);
    const names = runs.map((r) => {
      const creates = r.jobs.filter((j) => j.kind === 'snapshot.create');
      assert.deepEqual(creates.map((j) => j.state), ['succeeded', 'succeeded'], `run batch #${r.batch}: ${creates.map((j) => `#${j.id} ${j.state} ${j.error?.message ?? ''}`).join('; ')}`);
      return String(creates[0]!.payload.name);
    });
    assert.equal(new Set(names).size, 3, `three names, a minute apart: ${names.join(', ')}`);
    // the killed run's jobs: each taken once, by the second process
    for (const j of batches.get(run2Batch)!.filter((x) => x.kind === 'snapshot.create')) assert.equal(j.state, 'succeeded');

    // Each VM: exactly the two newest; the hand-made snapshot untouched.
    for (const vm of vms) assert.deepEqual(autoOf(vm, id), [names[1]!, names[2]!].sort(), vm);
    assert.ok(virsh('snapshot-list', `${web}-01`, '--name').split('\n').map((s) => s.trim()).includes('by-hand'));

    await sh.say(`/schedule delete id:${id}`, new RegExp(`Schedule #${id} deleted`));
    assert.equal(await sh.quit(), 0);
  } finally {
    sh.child.kill();
  }
});
