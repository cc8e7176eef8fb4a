/**
 * The Discord bot end to end: the real discord.js Client against the Discord API emulator, the
 * real adapter, store, worker and notifier, and the real hypervisor layer on the local libvirt.
 * Slash commands → jobs → VMs that really exist; status messages and completion mentions.
 *
 * Run: node --import tsx --test test/discord/jobs.test.ts   (KVMOPS_TEST_LOG=debug for logs)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDisk, defineVm, chainOf, domainExists, domainXml, skipUnlessLibvirt, writePattern } from '../helpers/libvirt.js';
import { assertEphemeral, run } from './helpers.js';
import { DiscordWorld, USER, embedOf } from './world.js';

const skip = skipUnlessLibvirt();

const diskOf = (vm: string) => /<source file='([^']+)'/.exec(domainXml(vm))![1]!;

describe('Discord: commands to jobs on real libvirt', skip, () => {
  let w: DiscordWorld;
  let src: string;
  let tpl: string;

  before(async () => {
    w = new DiscordWorld('dj');
    src = w.lab.vmName('src');
    tpl = w.lab.vmName('tpl');
    const disk = createDisk(`${w.lab.outsideDir}/src.qcow2`);
    writePattern(disk, 0x5a, '0', '1M');
    defineVm(src, [disk]);
    await w.start();
    // The template every deploy below uses, made through Discord by an admin.
    const a = await run(w, USER.root, 'template', 'create', { vm: src, name: tpl, seal: false });
    assertEphemeral(a);
    assert.ok(a.jobId, a.text);
    const job = await w.finished(a.jobId);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
  });
  after(async () => {
    await w?.close();
  });

  it('deploy thin: the VM exists, one status message went queued → running → succeeded, one completion mention', async () => {
    const name = w.lab.vmName('thin');
    const a = await run(w, USER.alice, 'deploy', undefined, { template: tpl, name });
    assertEphemeral(a);
    assert.equal(a.ack.type, 5, 'deferred at once: the handler reads the host');
    assert.ok(a.jobId, `the answer names the job: ${a.text}`);
    const job = await w.finished(a.jobId);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.ok(domainExists(name));
    assert.equal(chainOf(diskOf(name)).length, 2, 'a thin VM disk is an overlay on the template disk');

    const [status, ...more] = await w.emulator.waitFor(() => {
      const s = w.statusMessages(a.jobId!);
      return s.length && w.statesOf(s[0]!).at(-1) === 'succeeded' ? s : undefined;
    }, 10_000, 'the final status');
    assert.deepEqual(more, [], 'one status message per job');
    const states = w.statesOf(status!);
    console.log('states', states);
    assert.equal(embedOf(status)?.color, 0x2ecc71);
    const ends = await w.emulator.waitFor(() => w.endMessages(a.jobId!).length && w.endMessages(a.jobId!), 10_000, 'the completion message');
    assert.equal(ends.length, 1);
    assert.deepEqual(ends[0]!.mentionUserIds, [USER.alice]);
    assert.deepEqual(ends[0]!.allowedMentions, { parse: [], users: [USER.alice] });
  });
});
