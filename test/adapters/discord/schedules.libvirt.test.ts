/**
 * Scheduled snapshots through the real discord.js Client against the Discord API emulator, the
 * real adapter, store, worker and notifier, and real jobs on the local libvirt: `/schedule
 * create` as a slash command, then runs driven by a scheduler on the bot's own services with a
 * drivable clock. A run that succeeds is ONE status message and no mention; a run in which a VM
 * fails mentions the schedule's creator, once.
 *
 * Run: node --import tsx --test test/adapters/discord/schedules.libvirt.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Scheduler } from '../../../src/chat/scheduler.js';
import { corruptHeader, createDisk, defineVm, skipUnlessLibvirt } from '../../helpers/libvirt.js';
import { run } from './helpers.js';
import { DiscordWorld, USER, embedOf } from './world.js';

const skip = skipUnlessLibvirt();

describe('Discord: /schedule, quiet runs', skip, () => {
  let w: DiscordWorld;
  let disks: string[];

  before(async () => {
    w = new DiscordWorld('sc');
    disks = ['1', '2'].map((n) => {
      const disk = createDisk(`${w.lab.outsideDir}/web-${n}.qcow2`, { sizeMiB: 16 });
      defineVm(w.lab.vmName(`web-${n}`), [disk]);
      return disk;
    });
    await w.start();
  });
  after(async () => {
    await w?.close();
  });

  /** The batch's completion mention(s). */
  const mentions = (lead: number) => w.emulator.messages().filter((m) => m.content.includes(`batch #${lead} (`) && m.mentionUserIds.length > 0);

  it('create as a slash command; a run that succeeds is one status message and no mention; a failing one mentions the creator', async () => {
    await run(w, USER.alice, 'schedule', 'create', { vm: `${w.lab.prefix}web-?`, every: '1h', keep: 3 });
    // A public reply: the team sees the schedule made, in the channel.
    const posted = await w.emulator.waitFor(() => w.emulator.messages().find((m) => /Schedule #\d+ created/.test(embedOf(m)?.title ?? '')), 10_000, 'the schedule\'s public reply');
    assert.match(embedOf(posted)?.description ?? '', /\(2 now; internal\)/);

    let offset = 0;
    const scheduler = new Scheduler({ services: w.bot.core.services, now: () => Date.now() + offset });
    const runOnce = async () => {
      offset += 3_600_000;
      const { runs } = await scheduler.tick();
      assert.equal(runs.length, 1);
      const lead = runs[0]!.batchId!;
      await Promise.all(w.store.batch(lead).map((j) => w.finished(j.id, 120_000)));
      await w.emulator.waitFor(() => (w.statusMessages(lead).length ? true : undefined), 10_000, `batch #${lead}'s status message`);
      return lead;
    };

    const quiet = await runOnce();
    assert.deepEqual(w.store.batch(quiet).map((j) => j.state), ['succeeded', 'succeeded']);
    // The notifier has delivered the final state: the message says it, and still no mention.
    await w.emulator.waitFor(() => (/2 of 2 ended — 2 succeeded/.test(JSON.stringify(w.statusMessages(quiet)[0]?.edits.at(-1)?.body ?? {})) ? true : undefined), 10_000, 'the final edit');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(w.statusMessages(quiet).length, 1);
    assert.equal(mentions(quiet).length, 0, 'a run that succeeded mentions nobody');

    corruptHeader(disks[1]!);
    const loud = await runOnce();
    assert.deepEqual(w.store.batch(loud).map((j) => j.state), ['succeeded', 'failed']);
    await w.emulator.waitFor(() => (mentions(loud).length ? true : undefined), 10_000, 'the failed run\'s mention');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(mentions(loud).length, 1);
    assert.deepEqual(mentions(loud)[0]!.mentionUserIds, [USER.alice], 'the creator');
    assert.equal(w.statusMessages(loud).length, 1);
  });
});
