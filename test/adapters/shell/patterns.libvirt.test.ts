/**
 * VM patterns end to end, through the terminal chat over real libvirt and a real SQLite file:
 * a pattern snapshot of four thin VMs, a pattern revert approved once with each VM's data
 * checked, a rejected one leaving all four untouched, and one failing VM in a batch of five.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openJobStore } from '../../../src/jobs/store.js';
import type { Job } from '../../../src/jobs/types.js';
import { corruptHeader, diskOf, hasPattern, skipUnlessLibvirt, virsh, writePattern, type LibvirtTestEnv } from '../../helpers/libvirt.js';
import { goldenShellLab, ShellDriver } from './driver.js';

const opts = skipUnlessLibvirt();
let lab: LibvirtTestEnv;
let db: string;
let env: Record<string, string>;

before(() => {
  if (opts.skip) return;
  ({ lab, db, env } = goldenShellLab('batch'));
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

/** Waits until every job of the batch has ended (the shell's worker runs them). */
async function ended(lead: number, timeoutMs = 180_000): Promise<Job[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const jobs = batch(lead);
    if (jobs.length > 0 && jobs.every((j) => j.finishedAt !== null)) return jobs;
    if (Date.now() > deadline) throw new Error(`batch #${lead} did not end: ${jobs.map((j) => `#${j.id} ${j.state}`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('a pattern snapshot of four thin VMs, a revert approved once, a revert rejected', opts, async () => {
  const sh = new ShellDriver(['--as', 'alice', '--roles', 'operator,admin'], env);
  try {
    await sh.expect(/Type help\./);
    const base = lab.vmName('base');
    const web = lab.vmName('web');
    await sh.say(`/template create vm:${lab.vmName('golden')} name:${base} seal:false`, /@alice: job #\d+ succeeded/);
    await sh.say(`/deploy template:${base} name:${web} count:4 mode:thin`, /@alice: job #\d+ succeeded/);
    const vms = ['01', '02', '03', '04'].map((n) => `${web}-${n}`);
    const disks = vms.map((vm) => diskOf(vm));

    // One command, four jobs in one batch; the reply names each VM.
    const created = await sh.say(`/snapshot create vm:${web}-* name:before-patch`, /Batch #(\d+) queued: Snapshot 4 VMs matching/);
    const lead = Number(created[1]);
    for (const vm of vms) await sh.expect(new RegExp(`#\\d+ ${vm}\\b`));
    const snapped = await ended(lead);
    assert.deepEqual(snapped.map((j) => [j.payload.vm, j.state]), vms.map((vm) => [vm, 'succeeded']));
    for (const vm of vms) assert.match(virsh('snapshot-list', vm, '--name'), /^before-patch$/m, vm);
    // One status message for the batch, and one completion mention once all four ended.
    await sh.expect(new RegExp(`@alice: batch #${lead} \\(4 jobs\\) succeeded`));
    await sh.expect(/4 of 4 ended — 4 succeeded/);

    // Each VM's data changes after the snapshot, each in its own way.
    disks.forEach((d, i) => writePattern(d, 0x11 + i));

    // The revert: ONE request for all four, approved ONCE by a second person.
    const asked = await sh.say(`/snapshot revert vm:${web}-* name:before-patch`, /react (m\d+) ✅ to run it/);
    const request = asked[1]!;
    const revertLead = Number((await sh.expect(/Approval needed for batch #(\d+): Revert 4 VMs matching .*, each to its own snapshot before-patch/))[1]);
    assert.equal(sh.output.match(/react m\d+ ✅ to run it/g)?.length, 1, 'one request, not four');
    await sh.say(`react ${request} ✅`, /ignored: your own reaction does not count/);
    assert.deepEqual(batch(revertLead).map((j) => j.state), ['awaiting_approval', 'awaiting_approval', 'awaiting_approval', 'awaiting_approval']);
    await sh.say('as bob approver', /you are bob/);
    await sh.say(`react ${request} ✅`, /counted: job #\d+ approved/);
    const reverted = await ended(revertLead);
    assert.deepEqual(reverted.map((j) => [j.payload.vm, j.state]), vms.map((vm) => [vm, 'succeeded']));
    disks.forEach((d, i) => assert.ok(hasPattern(d, 0x5a), `${vms[i]}: back to the snapshot's data`));
    await sh.expect(new RegExp(`@alice: batch #${revertLead} \\(4 jobs\\) succeeded`));

    // A rejected revert leaves all four as they are.
    disks.forEach((d, i) => writePattern(d, 0x21 + i));
    await sh.say('as alice operator', /you are alice/);
    const from = sh.output.length;
    const again = await sh.say(`/snapshot revert vm:${web}-* name:before-patch`, /react (m\d+) ✅ to run it/);
    const rejectLead = Number((await sh.expect(/Approval needed for batch #(\d+)/, { from }))[1]);
    assert.notEqual(rejectLead, revertLead);
    await sh.say('as bob approver', /you are bob/);
    await sh.say(`react ${again[1]!} ❌`, /counted: job #\d+ rejected/);
    const rejected = await ended(rejectLead, 10_000);
    assert.deepEqual(rejected.map((j) => [j.state, j.error?.message]), vms.map(() => ['cancelled', 'rejected by bob']));
    disks.forEach((d, i) => assert.ok(hasPattern(d, 0x21 + i), `${vms[i]}: untouched by the rejected revert`));
    await sh.expect(new RegExp(`@alice: batch #${rejectLead} \\(4 jobs\\) was cancelled`));
    for (const l of [lead, revertLead, rejectLead]) {
      assert.equal(sh.output.match(new RegExp(`@alice: batch #${l} `, 'g'))?.length, 1, `one completion mention for batch #${l}`);
    }
    assert.doesNotMatch(sh.output, new RegExp(`@alice: job #(${batch(lead).map((j) => j.id).join('|')}) `), 'no per-job mention for a batch');
    assert.equal(await sh.quit(), 0);
  } finally {
    sh.child.kill();
  }
});

test('one failing VM in a batch of five does not stop the others; /job status says which and why', opts, async () => {
  const sh = new ShellDriver(['--as', 'alice', '--roles', 'operator,admin'], env);
  try {
    await sh.expect(/Type help\./);
    const base = lab.vmName('base2');
    const app = lab.vmName('app');
    await sh.say(`/template create vm:${lab.vmName('golden')} name:${base} seal:false`, /@alice: job #\d+ succeeded/);
    await sh.say(`/deploy template:${base} name:${app} count:5 mode:thin`, /@alice: job #\d+ succeeded/);
    const vms = ['01', '02', '03', '04', '05'].map((n) => `${app}-${n}`);
    // app-03's disk is broken behind kvmops' back: its snapshot must fail, and only its.
    corruptHeader(diskOf(vms[2]!));

    const created = await sh.say(`/snapshot create vm:${app}-0? name:nightly`, /Batch #(\d+) queued: Snapshot 5 VMs matching/);
    const lead = Number(created[1]);
    const jobs = await ended(lead);
    assert.deepEqual(
      jobs.map((j) => [j.payload.vm, j.state]),
      vms.map((vm, i) => [vm, i === 2 ? 'failed' : 'succeeded']),
    );
    for (const [i, vm] of vms.entries()) {
      if (i !== 2) assert.match(virsh('snapshot-list', vm, '--name'), /^nightly$/m, vm);
    }
    const failed = jobs[2]!;
    const status = await sh.say(`/job status id:${jobs[4]!.id}`, /batch #\d+: 5 jobs, 5 ended — 4 succeeded, 1 failed/);
    assert.equal(Number(status[0].match(/#(\d+)/)![1]), lead);
    await sh.expect(new RegExp(`#${failed.id} ${vms[2]!}: failed — ${failed.error!.code}: `));
    await sh.expect(new RegExp(`@alice: batch #${lead} \\(5 jobs\\) failed — ${failed.error!.code}: 1 of 5 failed: ${vms[2]!}`));
    assert.equal(await sh.quit(), 0);
  } finally {
    sh.child.kill();
  }
});
