/**
 * The Discord bot end to end: the real discord.js Client against the Discord API emulator, the
 * real adapter, store, worker and notifier, and the real hypervisor layer on the local libvirt.
 * Slash commands → jobs → VMs that really exist; status messages and completion mentions;
 * approval by reaction (live, after a restart, and made while the bot was down); REST 429/500
 * and a dropped gateway with every notification arriving once.
 *
 * Run: node --import tsx --test test/discord/jobs.test.ts   (KVMOPS_TEST_LOG=debug for logs)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MessageRecord } from '../../discord-emulator/index.js';
import {
  chainOf,
  createDisk,
  defineVm,
  domainExists,
  domainXml,
  hasPattern,
  skipUnlessLibvirt,
  virsh,
  writePattern,
} from '../../helpers/libvirt.js';
import { assertEphemeral, run } from './helpers.js';
import { DiscordWorld, USER, embedOf } from './world.js';

const skip = skipUnlessLibvirt();

const diskOf = (vm: string) => /<source file='([^']+)'/.exec(domainXml(vm))![1]!;

/** `states` appears in this order within `allowed` (some may be coalesced away). */
function inOrder(states: string[], allowed: string[]): boolean {
  let i = 0;
  for (const s of states) {
    const j = allowed.indexOf(s, i);
    if (j === -1) return false;
    i = j;
  }
  return true;
}

describe('Discord: commands to jobs on real libvirt', skip, () => {
  let w: DiscordWorld;
  let src: string;
  let tpl: string;
  let thin: string;

  before(async () => {
    w = new DiscordWorld('dj');
    src = w.lab.vmName('src');
    tpl = w.lab.vmName('tpl');
    thin = w.lab.vmName('thin');
    const disk = createDisk(`${w.lab.outsideDir}/src.qcow2`);
    writePattern(disk, 0x5a, '0', '1M');
    defineVm(src, [disk]);
    await w.start();
    // The template every deploy below uses, made through Discord by an admin (no virt-sysprep).
    const a = await run(w, USER.root, 'template', 'create', { vm: src, name: tpl, seal: false });
    assertEphemeral(a);
    assert.ok(a.jobId, a.text);
    const job = await w.finished(a.jobId);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
  });
  after(async () => {
    await w?.close();
  });

  /** Waits for job #id's status message to show `state`; asserts there is exactly one. */
  async function finalStatus(id: number, state = 'succeeded'): Promise<MessageRecord> {
    const list = await w.emulator.waitFor(() => {
      const s = w.statusMessages(id);
      return s.length && w.statesOf(s.at(-1)!).at(-1) === state ? s : undefined;
    }, 20_000, `job #${id}'s status to show ${state}`);
    assert.equal(list.length, 1, `one status message for job #${id}`);
    return list[0]!;
  }

  async function oneEnd(id: number, requester: string): Promise<MessageRecord> {
    const ends = await w.emulator.waitFor(() => w.endMessages(id).length && w.endMessages(id), 20_000, `job #${id}'s completion message`);
    await new Promise((r) => setTimeout(r, 200)); // a duplicate would come right after
    assert.equal(w.endMessages(id).length, 1, `one completion message for job #${id}`);
    assert.deepEqual(ends[0]!.mentionUserIds, [requester]);
    assert.deepEqual(ends[0]!.allowedMentions, { parse: [], users: [requester] });
    assert.deepEqual(ends[0]!.pings, { users: [requester], roles: [], everyone: false }, 'it pings the requester and no one else');
    return ends[0]!;
  }

  it('deploy thin: the VM exists; one status message queued → running → succeeded; one completion mention', async () => {
    // A busy worker: the job waits in the queue, and the status message shows it.
    await w.bot.app.worker.stop();
    const a = await run(w, USER.alice, 'deploy', undefined, { template: tpl, name: thin });
    assertEphemeral(a);
    assert.equal(a.ack.type, 5, 'deferred at once: the handler reads the host');
    assert.ok(a.jobId, `the answer names the job: ${a.text}`);
    await w.emulator.waitFor(() => w.statusMessages(a.jobId!).length === 1, 10_000, 'the queued status message');
    assert.equal(embedOf(w.statusMessages(a.jobId)[0])?.fields?.[0]?.value, 'queued');
    assert.equal(embedOf(w.statusMessages(a.jobId)[0])?.color, 0x95a5a6, 'queued is grey');
    w.bot.app.worker.start();

    const job = await w.finished(a.jobId);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.ok(domainExists(thin));
    const chain = chainOf(diskOf(thin));
    assert.equal(chain.length, 2, 'a thin disk is an overlay on the template disk');
    assert.ok(chain[1]!.filename.startsWith(w.lab.storage.templatesDir));

    const status = await finalStatus(a.jobId);
    const states = w.statesOf(status);
    assert.equal(states[0], 'queued');
    assert.equal(states.at(-1), 'succeeded');
    assert.ok(states.includes('running'), `went through running: ${states.join(' → ')}`);
    assert.ok(inOrder(states, ['queued', 'running', 'succeeded']), states.join(' → '));
    const embed = embedOf(status)!;
    assert.equal(embed.color, 0x2ecc71, 'succeeded is green');
    assert.ok(embed.fields?.some((f) => f.name === 'Duration'));
    assert.match(embed.fields?.find((f) => f.name === 'Result')?.value ?? '', new RegExp(thin.replace(/[-]/g, '\\-')));
    const end = await oneEnd(a.jobId, USER.alice);
    assert.match(end.content, /succeeded/);
  });

  it('deploy clone ×2: independent full copies exist; notified once each', async () => {
    const name = w.lab.vmName('cl');
    const a = await run(w, USER.alice, 'deploy', undefined, { template: tpl, name, mode: 'clone', count: 2 });
    assertEphemeral(a);
    const job = await w.finished(a.jobId!);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    for (const vm of [`${name}-01`, `${name}-02`]) {
      assert.ok(domainExists(vm), vm);
      assert.equal(chainOf(diskOf(vm)).length, 1, 'a clone has no backing file');
      assert.ok(hasPattern(diskOf(vm), 0x5a), 'the template data is in the copy');
    }
    await finalStatus(a.jobId!);
    await oneEnd(a.jobId!, USER.alice);
  });

  let snapFile: string;
  it('snapshot create (internal) through Discord', async () => {
    snapFile = diskOf(thin);
    writePattern(snapFile, 0xa1, '0', '1M'); // what the snapshot keeps
    const a = await run(w, USER.alice, 'snapshot', 'create', { vm: thin, name: 's1', description: 'before the change' });
    assertEphemeral(a);
    const job = await w.finished(a.jobId!);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.match(virsh('snapshot-list', '--name', thin), /^s1$/m);
    await finalStatus(a.jobId!);
    await oneEnd(a.jobId!, USER.alice);
    writePattern(snapFile, 0xb2, '0', '1M'); // the change a revert must undo
  });

  /** Requests a revert; returns the job id and the request message (reactions ✅ ❌ by the bot). */
  async function requestRevert(): Promise<{ jobId: number; message: MessageRecord }> {
    const a = await run(w, USER.alice, 'snapshot', 'revert', { vm: thin, name: 's1' });
    assertEphemeral(a); // the acknowledgement; the request itself is public
    assert.match(a.text, /waiting for approval/);
    const jobId = a.jobId!;
    assert.equal(w.job(jobId).state, 'awaiting_approval');
    const approval = w.store.approvals.get(jobId);
    assert.ok(approval?.messageId, 'the request message is attached to the approval');
    const message = await w.emulator.waitFor(() => {
      const m = w.emulator.message(approval.messageId!);
      return m && m.reactions.length === 2 ? m : undefined;
    }, 5_000, 'the request with ✅ and ❌');
    assert.equal(message.ephemeral, false);
    assert.match(embedOf(message)?.title ?? '', new RegExp(`Approval needed for job #${jobId}`));
    assert.deepEqual(message.reactions, [
      { emoji: '✅', userIds: [w.emulator.botUserId] },
      { emoji: '❌', userIds: [w.emulator.botUserId] },
    ]);
    return { jobId, message };
  }

  const reactors = (messageId: string, emoji: string) => w.emulator.message(messageId)?.reactions.find((r) => r.emoji === emoji)?.userIds ?? [];

  it("revert: the requester's ✅ and a role-less member's ✅ do not count (and are removed); an approver's ✅ runs it and the data is back", async () => {
    const { jobId, message } = await requestRevert();
    const ch = w.emulator.channelId;

    w.emulator.react(USER.alice, ch, message.id, '✅');
    await w.emulator.waitFor(() => !reactors(message.id, '✅').includes(USER.alice), 5_000, "the requester's ✅ removed");
    w.emulator.react(USER.carol, ch, message.id, '✅');
    await w.emulator.waitFor(() => !reactors(message.id, '✅').includes(USER.carol), 5_000, "carol's ✅ removed");
    assert.equal(w.job(jobId).state, 'awaiting_approval', 'still waiting');
    assert.ok(hasPattern(snapFile, 0xb2), 'nothing reverted yet');

    w.emulator.react(USER.bob, ch, message.id, '✅');
    const job = await w.finished(jobId);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.deepEqual(reactors(message.id, '✅'), [w.emulator.botUserId, USER.bob], "the approver's ✅ stays");
    assert.ok(hasPattern(diskOf(thin), 0xa1), 'the disk holds the snapshot data again');
    const edited = await w.emulator.waitFor(() => /^Approved/.test(embedOf(w.emulator.message(message.id))?.title ?? '') && w.emulator.message(message.id), 10_000, 'the request edited');
    assert.match(embedOf(edited)?.description ?? '', new RegExp(`<@${USER.bob}>`));
    const status = await finalStatus(jobId);
    assert.ok(inOrder(w.statesOf(status), ['awaiting approval', 'queued', 'running', 'succeeded']), w.statesOf(status).join(' → '));
    assert.equal(w.statesOf(status)[0], 'awaiting approval');
    await oneEnd(jobId, USER.alice);
  });

  it("revert: an approver's ❌ rejects (job cancelled, request edited)", async () => {
    writePattern(diskOf(thin), 0xc3, '0', '1M');
    const { jobId, message } = await requestRevert();
    w.emulator.react(USER.bob, w.emulator.channelId, message.id, '❌');
    const job = await w.finished(jobId);
    assert.equal(job.state, 'cancelled');
    assert.equal(w.store.approvals.get(jobId)?.state, 'rejected');
    await w.emulator.waitFor(() => /^Rejected/.test(embedOf(w.emulator.message(message.id))?.title ?? ''), 10_000, 'the request edited: rejected');
    assert.ok(hasPattern(diskOf(thin), 0xc3), 'nothing reverted');
    await finalStatus(jobId, 'cancelled');
    await oneEnd(jobId, USER.alice);
  });

  it('revert: an unanswered request expires (short TTL) and the request is edited', async () => {
    await w.restart({ approvalTtl: '2s', approvalSweepMs: 200 });
    const { jobId, message } = await requestRevert();
    const job = await w.finished(jobId, 15_000);
    assert.equal(job.state, 'cancelled');
    assert.equal(w.store.approvals.get(jobId)?.state, 'expired');
    await w.emulator.waitFor(() => /^Expired/.test(embedOf(w.emulator.message(message.id))?.title ?? ''), 10_000, 'the request edited: expired');
    // Its Approve / Reject buttons are disabled, as after any decision.
    const buttons = (w.emulator.message(message.id)?.components ?? []).flatMap((row) => (row as { components: Array<{ disabled?: boolean }> }).components);
    assert.equal(buttons.length, 2);
    assert.ok(buttons.every((b) => b.disabled === true), JSON.stringify(buttons));
    // A late ✅ does not revive it.
    w.emulator.react(USER.bob, w.emulator.channelId, message.id, '✅');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(w.job(jobId).state, 'cancelled');
    await w.restart();
  });

  it('restart with a pending approval: a ✅ on the (uncached) request message after the restart runs the job', async () => {
    writePattern(diskOf(thin), 0xd4, '0', '1M');
    const { jobId, message } = await requestRevert();
    await w.restart();
    assert.equal(w.bot.discord.client.channels.cache.get(w.emulator.channelId)?.isTextBased() && (w.bot.discord.client.channels.cache.get(w.emulator.channelId) as { messages: { cache: Map<string, unknown> } }).messages.cache.has(message.id), false, 'the new client never saw the request');
    w.emulator.react(USER.bob, w.emulator.channelId, message.id, '✅');
    const job = await w.finished(jobId);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.ok(hasPattern(diskOf(thin), 0xa1));
    await finalStatus(jobId);
    await oneEnd(jobId, USER.alice);
  });

  it('a ✅ made while the bot was down is picked up by start-up reconciliation', async () => {
    writePattern(diskOf(thin), 0xe5, '0', '1M');
    const { jobId, message } = await requestRevert();
    await w.stopBot();
    assert.equal(w.emulator.react(USER.bob, w.emulator.channelId, message.id, '✅'), true);
    w.bot = await w.startBot();
    assert.deepEqual(w.bot.discord.reconciled, [{ jobId, outcome: { kind: 'approved', jobId } }]);
    const job = await w.finished(jobId);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.ok(hasPattern(diskOf(thin), 0xa1));
    await finalStatus(jobId);
    await oneEnd(jobId, USER.alice);
  });

  it('REST 429 and 500 on message create/edit, and a gateway drop during the job: every notification arrives once, the status ends succeeded', async () => {
    const name = w.lab.vmName('flaky');
    const before = w.emulator.requests().length;
    // The job waits in the queue while its status message is created through a 429 (discord.js
    // waits and retries) and then 500 ×4 (beyond discord.js' 3 retries: the sink throws a
    // retryable error and the notifier tries again later).
    await w.bot.app.worker.stop();
    w.emulator.failNext('POST /channels/:channel/messages', { status: 429, retryAfter: 0.2 });
    w.emulator.failNext('POST /channels/:channel/messages', { status: 500, count: 4 });
    const a = await run(w, USER.alice, 'deploy', undefined, { template: tpl, name, mode: 'clone', count: 2 });
    await w.emulator.waitFor(() => w.statusMessages(a.jobId!).length === 1, 20_000, 'the queued status message, after the failures');
    // Then its edits (running, succeeded) meet the same, while the gateway is down.
    w.emulator.failNext('PATCH /channels/:channel/messages/:message', { status: 429, retryAfter: 0.2 });
    w.emulator.failNext('PATCH /channels/:channel/messages/:message', { status: 500, count: 4 });
    w.emulator.dropGateway();
    await w.emulator.waitFor(() => w.bot.discord.status() !== 'connected', 2_000, '/healthz to see the gateway drop');
    w.bot.app.worker.start();
    const job = await w.finished(a.jobId!);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    const status = await finalStatus(a.jobId!);
    assert.equal(embedOf(status)?.color, 0x2ecc71);
    await oneEnd(a.jobId!, USER.alice);
    await w.emulator.waitFor(() => w.emulator.pendingFailures === 0, 20_000, 'every injected failure used');
    const statuses = w.emulator.requests().slice(before).map((r) => r.status);
    assert.ok(statuses.includes(429) && statuses.includes(500));
    await w.emulator.waitFor(() => w.bot.discord.status() === 'connected', 10_000, 'the gateway back');
    assert.ok(w.emulator.resumeCount >= 1, 'resumed');
    // The metric counted the failed responses.
    const metrics = await w.bot.app.ops.metrics.render();
    assert.match(metrics, /kvmops_discord_rest_errors_total\{status="500"\} [1-9]/);
    assert.match(metrics, /kvmops_discord_rest_errors_total\{status="429"\} [1-9]/);
    assert.deepEqual(w.emulator.unknownRoutes(), []);
  });

  it('the snapshot is swapped while its revert waits: the approver\'s ✅ reverts nothing, the job fails target-changed', async () => {
    // The release state, and work on top of it.
    writePattern(diskOf(thin), 0x61, '0', '1M');
    const good = await run(w, USER.alice, 'snapshot', 'create', { vm: thin, name: 'known-good', description: 'the release' });
    assert.equal((await w.finished(good.jobId!)).state, 'succeeded');
    writePattern(diskOf(thin), 0x62, '0', '1M');

    // The operator asks to revert to known-good; the request shows what was pinned.
    const a = await run(w, USER.alice, 'snapshot', 'revert', { vm: thin, name: 'known-good' });
    const jobId = a.jobId!;
    const messageId = w.store.approvals.get(jobId)!.messageId!;
    const request = embedOf(w.emulator.message(messageId)!)!;
    const created = Number(/<creationTime>(\d+)<\/creationTime>/.exec(virsh('snapshot-dumpxml', thin, 'known-good'))![1]);
    const taken = new Date(created * 1000).toISOString().slice(0, 16).replace('T', ' ');
    assert.match(request.title ?? '', new RegExp(`known-good \\(taken ${taken} UTC\\)`), 'the request names the snapshot with its creation time');
    assert.match(request.description ?? '', /Pinned: VM .*; snapshot known-good \(taken/);

    // While it waits, the same operator deletes known-good and makes a new known-good on a state of
    // their own, with the same description (neither needs an approval).
    const del = await run(w, USER.alice, 'snapshot', 'delete', { vm: thin, name: 'known-good' });
    assert.equal((await w.finished(del.jobId!)).state, 'succeeded');
    await new Promise((r) => setTimeout(r, 1_100)); // a later second than the original, as any real swap is
    writePattern(diskOf(thin), 0x63, '0', '1M');
    const swap = await run(w, USER.alice, 'snapshot', 'create', { vm: thin, name: 'known-good', description: 'the release' });
    assert.equal((await w.finished(swap.jobId!)).state, 'succeeded');
    writePattern(diskOf(thin), 0x64, '0', '1M');

    // The approver approves what the request showed.
    w.emulator.react(USER.bob, w.emulator.channelId, messageId, '✅');
    const job = await w.finished(jobId);
    assert.equal(job.state, 'failed');
    assert.equal(job.error?.code, 'target-changed', job.error?.message);
    assert.ok(hasPattern(diskOf(thin), 0x64), "the VM did not get the operator's state");
    await finalStatus(jobId, 'failed');
    await oneEnd(jobId, USER.alice);
  });

  it('every job so far has exactly one status message and at most one completion message', () => {
    for (const job of w.jobs()) {
      assert.equal(w.statusMessages(job.id).length, 1, `job #${job.id} status messages`);
      assert.equal(w.endMessages(job.id).length, ['succeeded', 'failed', 'cancelled'].includes(job.state) ? 1 : 0, `job #${job.id} completion messages`);
    }
  });
});
