/**
 * VM patterns through the real discord.js Client against the Discord API emulator, the real
 * adapter, store, worker and notifier, and real jobs on the local libvirt: a pattern snapshot of
 * three blank VMs, then a pattern revert asked once and approved by ONE Approve click — every
 * disk holds its snapshot's data again; each batch has ONE status message and ONE completion
 * mention, and no job of it has its own.
 *
 * Run: node --import tsx --test test/adapters/discord/batches.libvirt.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDisk, defineVm, hasPattern, skipUnlessLibvirt, writePattern } from '../../helpers/libvirt.js';
import { run } from './helpers.js';
import { DiscordWorld, USER, embedOf } from './world.js';

const skip = skipUnlessLibvirt();

describe('Discord: a VM pattern is one batch, one approval, one status message', skip, () => {
  let w: DiscordWorld;
  let vms: string[];
  let disks: string[];

  before(async () => {
    w = new DiscordWorld('bt');
    vms = ['1', '2', '3'].map((n) => w.lab.vmName(`web-${n}`));
    disks = vms.map((vm, i) => {
      const disk = createDisk(`${w.lab.outsideDir}/web-${i + 1}.qcow2`, { sizeMiB: 16 });
      defineVm(vm, [disk]);
      writePattern(disk, 0xa1, '0', '1M');
      return disk;
    });
    await w.start();
  });
  after(async () => {
    await w?.close();
  });

  /** Every job of the batch led by `lead`, once all have ended. */
  async function ended(lead: number) {
    const jobs = w.store.batch(lead);
    assert.equal(jobs.length, vms.length);
    return Promise.all(jobs.map((j) => w.finished(j.id, 120_000)));
  }

  /** The batch's completion mention(s), and any per-job one of its jobs. */
  const mentions = (lead: number) => w.emulator.messages().filter((m) => m.content.includes(`batch #${lead} (`) && m.mentionUserIds.length > 0);

  it('snapshot a pattern, then revert it with one approval click', async () => {
    const pattern = `${w.lab.prefix}web-?`;
    const made = await run(w, USER.alice, 'snapshot', 'create', { vm: pattern, name: 's1' });
    const lead = made.jobId!;
    assert.match(made.text, new RegExp(`Batch #${lead} queued: Snapshot 3 VMs matching`));
    for (const vm of vms) assert.ok(made.text.includes(vm), `the reply names ${vm}`);
    assert.deepEqual((await ended(lead)).map((j) => j.state), ['succeeded', 'succeeded', 'succeeded']);
    await w.emulator.waitFor(() => (mentions(lead).length ? true : undefined), 10_000, 'the batch completion mention');

    disks.forEach((d) => writePattern(d, 0xb2, '0', '1M'));
    const asked = await run(w, USER.alice, 'snapshot', 'revert', { vm: pattern, name: 's1' });
    const revertLead = asked.jobId!;
    const requestId = w.job(revertLead).requestId;
    const messageId = w.store.approvals.get(revertLead)!.messageId!;
    const request = await w.emulator.waitFor(() => {
      const m = w.emulator.message(messageId);
      return m && m.reactions.length === 2 ? m : undefined;
    }, 5_000, 'the one request with ✅ and ❌');
    const text = `${embedOf(request)?.title ?? ''}\n${embedOf(request)?.description ?? ''}`;
    assert.match(text, /Revert 3 VMs matching .*each to its own snapshot s1/);
    for (const vm of vms) assert.ok(text.includes(vm), `the request names ${vm}`);
    assert.equal(
      w.emulator.messages().filter((m) => /Approval needed/.test(embedOf(m)?.title ?? '')).length,
      1,
      'one request for the batch',
    );

    const click = w.emulator.clickButton({ user: USER.bob, messageId, customId: `approve:${revertLead}:${requestId}` });
    const ack = await click.response();
    assert.ok(ack.status < 400 && !ack.late);
    assert.deepEqual((await ended(revertLead)).map((j) => j.state), ['succeeded', 'succeeded', 'succeeded']);
    disks.forEach((d, i) => assert.ok(hasPattern(d, 0xa1, '0', '1M'), `${vms[i]}: back to its snapshot's data`));

    await w.emulator.waitFor(() => (mentions(revertLead).length ? true : undefined), 10_000, 'the revert batch completion mention');
    await new Promise((r) => setTimeout(r, 500));
    for (const l of [lead, revertLead]) {
      assert.equal(mentions(l).length, 1, `one completion mention for batch #${l}`);
      assert.equal(w.statusMessages(l).length, 1, `one status message for batch #${l}`);
      const status = embedOf(w.statusMessages(l)[0]!);
      assert.match(status?.description ?? JSON.stringify(status), /3 of 3 ended — 3 succeeded/);
      for (const j of w.store.batch(l)) {
        if (j.id !== l) assert.equal(w.statusMessages(j.id).length, 0, `no status message of its own for job #${j.id}`);
        assert.equal(w.endMessages(j.id).length, 0, `no completion mention of its own for job #${j.id}`);
      }
    }
  });
});
