/**
 * Scheduled snapshots end to end (issue 25), through the terminal chat over real libvirt and a
 * real SQLite file, the schedules' clock driven with `--clock` (`clock +1h`): a schedule over
 * `web-*` with keep 2 run three times leaves each VM exactly its two newest auto snapshots; a
 * hand-made snapshot named like an auto one survives; a VM deployed between runs is in the
 * later runs; runs are quiet on success (one status message each, no completion mention); a
 * deleted schedule runs no more.
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
  ({ lab, db, env } = goldenShellLab('sched'));
});
after(() => lab?.cleanup());

/** The jobs of the batch whose lead is `lead`, read from the shell's database. */
function batch(lead: number): Job[] {
  const store = openJobStore(db);
  try {
    return store.batch(lead);
  } finally {
    store.close();
  }
}

/** Waits until the batch satisfies `done` (the shell's worker runs its jobs). */
async function until(lead: number, done: (jobs: Job[]) => boolean, what: string, timeoutMs = 180_000): Promise<Job[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = batch(lead);
    if (jobs.length > 0 && done(jobs)) return jobs;
    if (Date.now() > deadline) throw new Error(`batch #${lead}: ${what} never happened: ${jobs.map((j) => `#${j.id} ${j.kind} ${j.state}`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
const allEnded = (jobs: Job[]) => jobs.every((j) => j.finishedAt !== null);

const autoOf = (vm: string, id: number) =>
  virsh('snapshot-list', vm, '--name')
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s.startsWith(`auto-${id}-`))
    .sort();

test('a schedule over web-* with keep 2, run three times by the drivable clock', opts, async () => {
  const sh = new ShellDriver(['--as', 'alice', '--roles', 'operator,admin', '--clock'], env);
  try {
    await sh.expect(/Type help\./);
    const base = lab.vmName('base');
    const web = lab.vmName('web');
    await sh.say(`/template create vm:${lab.vmName('golden')} name:${base} seal:false`, /@alice: job #\d+ succeeded/);
    await sh.say(`/deploy template:${base} name:${web} count:2 mode:thin`, /@alice: job #\d+ succeeded/);

    const created = await sh.say(`/schedule create vm:${web}-* every:1h keep:2`, /Schedule #(\d+) created: .* every 1h, keeping 2/);
    const id = Number(created[1]);
    // Made by hand, named like this schedule's and older than all of its runs: never its own.
    const handMade = `auto-${id}-20000101-0000`;
    await sh.say(`/snapshot create vm:${web}-01 name:${handMade}`, /@alice: job #\d+ succeeded/);

    const runs: Array<{ lead: number; name: string }> = [];
    for (let i = 1; i <= 3; i++) {
      // A VM deployed between the first and the second run is in the second and third.
      if (i === 2) await sh.say(`/deploy template:${base} name:${web}-03 mode:thin`, /@alice: job #\d+ succeeded/);
      const ran = await sh.say('clock +1h', new RegExp(`schedule #${id} ran: batch #(\\d+), (auto-${id}-\\d{8}-\\d{4}) — (\\d) VMs`));
      runs.push({ lead: Number(ran[1]), name: ran[2]! });
      assert.equal(Number(ran[3]), i === 1 ? 2 : 3, `run ${i}: the VMs matching then`);
      const jobs = await until(runs[i - 1]!.lead, allEnded, 'the snapshots');
      assert.deepEqual(jobs.filter((j) => j.kind === 'snapshot.create').map((j) => j.state), jobs.filter((j) => j.kind === 'snapshot.create').map(() => 'succeeded'));
    }
    assert.equal(new Set(runs.map((r) => r.name)).size, 3, 'three names, an hour apart');

    // The third run's retention (this tick's, or the timer's if it came first): the oldest auto
    // snapshot of web-01 and web-02 — web-03 has only two — deleted by jobs in the run's batch.
    await sh.say('clock tick', /clock: /);
    const third = await until(runs[2]!.lead, (jobs) => jobs.filter((j) => j.kind === 'snapshot.delete').length === 2 && allEnded(jobs), 'the retention deletes');
    const deletes = third.filter((j) => j.kind === 'snapshot.delete');
    assert.deepEqual(deletes.map((j) => [j.payload.vm, j.payload.name, j.state]).sort(), [
      [`${web}-01`, runs[0]!.name, 'succeeded'],
      [`${web}-02`, runs[0]!.name, 'succeeded'],
    ]);

    // Each VM: exactly the two newest auto snapshots; the hand-made one is still on web-01.
    const newest = [runs[1]!.name, runs[2]!.name].sort();
    assert.deepEqual(autoOf(`${web}-01`, id), [handMade, ...newest].sort());
    assert.deepEqual(autoOf(`${web}-02`, id), newest);
    assert.deepEqual(autoOf(`${web}-03`, id), newest);

    // Quiet: one status message per run, edited in place; no completion mention for any run.
    for (const r of runs) {
      const messages = new Set([...sh.output.matchAll(new RegExp(`\\[(m\\d+)\\] kvmops: \\S+ Batch #${r.lead}: `, 'g'))].map((m) => m[1]));
      assert.equal(messages.size, 1, `run batch #${r.lead}: one status message, edited in place (${[...messages].join(', ')})`);
      assert.doesNotMatch(sh.output, new RegExp(`@alice: batch #${r.lead} `), `no mention for run batch #${r.lead}`);
    }
    await sh.say('/schedule list', new RegExp(`#${id} ${web}-\\* on local · every 1h · keep 2 · internal · next .* · last .*batch #${runs[2]!.lead}`));

    // Deleted: no more runs; its snapshots stay.
    await sh.say(`/schedule delete id:${id}`, new RegExp(`Schedule #${id} deleted`));
    const from = sh.output.length;
    await sh.say('clock +2h', /clock: /);
    await new Promise((r) => setTimeout(r, 500));
    assert.doesNotMatch(sh.output.slice(from), new RegExp(`schedule #${id} ran`));
    assert.deepEqual(autoOf(`${web}-02`, id), newest);
    assert.equal(await sh.quit(), 0);
  } finally {
    sh.child.kill();
  }
});
