/**
 * Buttons beside reactions, through the real discord.js Client against the Discord API emulator
 * (INTERACTION_CREATE type 3, custom ids, callbacks 4 / 6), the real adapter, store, worker and
 * notifier, and real jobs on the local libvirt (a snapshot revert of a tiny blank VM; a stop of a
 * running one that ignores ACPI, for Cancel):
 *
 * - the approval request carries Approve / Reject beside ✅ / ❌ and mentions the approver role
 *   (allowed_mentions: that role only); KVMOPS_NOTIFY_APPROVERS=false drops the mention;
 * - the requester's click and a role-less member's click are refused with an ephemeral reason
 *   and change nothing; an approver's click runs the job (the disk holds the snapshot's data);
 * - Reject by button cancels; after any decision (button or reaction) the buttons are disabled
 *   and the message says who decided and when; a reaction after a click decision changes nothing;
 * - a custom id naming another job (forged) is refused; a click after a restart works;
 * - the status message of a running job has Cancel (requester or admin), gone when it ends.
 *
 * Run: node --import tsx --test test/adapters/discord/buttons.libvirt.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { InteractionCallbackRecord, InteractionHandle, MessageRecord } from '../../discord-emulator/index.js';
import { createDisk, defineVm, hasPattern, skipUnlessLibvirt, virsh, virshMaybe, writePattern } from '../../helpers/libvirt.js';
import { run } from './helpers.js';
import { DiscordWorld, ROLE, USER, embedOf } from './world.js';

const skip = skipUnlessLibvirt();

interface Button {
  type: number;
  custom_id: string;
  label: string;
  style: number;
  disabled?: boolean;
}
const buttonsOf = (m: MessageRecord | null): Button[] => (m?.components ?? []).flatMap((row) => (row as { components: Button[] }).components);

describe('Discord: buttons beside reactions', skip, () => {
  let w: DiscordWorld;
  let vm: string;
  let disk: string;

  before(async () => {
    w = new DiscordWorld('db');
    vm = w.lab.vmName('blank');
    disk = createDisk(`${w.lab.outsideDir}/blank.qcow2`, { sizeMiB: 16 });
    defineVm(vm, [disk]);
    await w.start();
    writePattern(disk, 0xa1, '0', '1M'); // what the snapshot keeps
    const a = await run(w, USER.alice, 'snapshot', 'create', { vm, name: 's1' });
    assert.equal((await w.finished(a.jobId!)).state, 'succeeded');
  });
  after(async () => {
    await w?.close();
  });

  /** A revert request by alice; the disk is changed first so a revert would show. */
  async function requestRevert(mark: number): Promise<{ jobId: number; message: MessageRecord }> {
    writePattern(disk, mark, '0', '1M');
    const a = await run(w, USER.alice, 'snapshot', 'revert', { vm, name: 's1' });
    const jobId = a.jobId!;
    const messageId = w.store.approvals.get(jobId)!.messageId!;
    const message = await w.emulator.waitFor(() => {
      const m = w.emulator.message(messageId);
      return m && m.reactions.length === 2 ? m : undefined;
    }, 5_000, 'the request with ✅ and ❌');
    return { jobId, message };
  }

  async function click(user: string, messageId: string, customId: string): Promise<{ handle: InteractionHandle; ack: InteractionCallbackRecord }> {
    const handle = w.emulator.clickButton({ user, messageId, customId });
    const ack = await handle.response();
    assert.equal(ack.late, false, 'answered within 3 s');
    assert.ok(ack.status < 400, `callback refused: HTTP ${ack.status}`);
    return { handle, ack };
  }

  /** The ephemeral reply to a click (callback 4 with flags 64, or a deferred one edited). */
  async function ephemeralText(handle: InteractionHandle, ack: InteractionCallbackRecord): Promise<string> {
    assert.equal(ack.ephemeral, true, 'only the clicker sees it');
    const m = await w.emulator.waitFor(() => {
      const o = handle.original();
      return o && (ack.type === 4 || o.edits.length > 0) ? o : undefined;
    }, 10_000, 'the ephemeral answer');
    assert.equal(m.ephemeral, true);
    return [m.content, embedOf(m)?.title, embedOf(m)?.description].filter(Boolean).join('\n');
  }

  const decidedWith = (messageId: string, word: RegExp) =>
    w.emulator.waitFor(() => {
      const m = w.emulator.message(messageId);
      const b = buttonsOf(m);
      return m && word.test(embedOf(m)?.title ?? '') && b.length === 2 && b.every((x) => x.disabled === true) ? m : undefined;
    }, 10_000, `the request edited (${word.source}) with its buttons disabled`);

  it('the request: Approve / Reject buttons beside ✅ / ❌, the approver role mentioned and nobody else pinged', async () => {
    const { jobId, message } = await requestRevert(0xb2);
    const requestId = w.job(jobId).requestId;
    assert.deepEqual(
      buttonsOf(message).map((b) => [b.custom_id, b.label, b.style, b.disabled]),
      [
        [`approve:${jobId}:${requestId}`, 'Approve', 3, false],
        [`reject:${jobId}:${requestId}`, 'Reject', 4, false],
      ],
    );
    assert.match(message.content, new RegExp(`^<@&${ROLE.approver}> `));
    assert.deepEqual(message.allowedMentions, { parse: [], roles: [ROLE.approver] });
    assert.deepEqual(message.pings, { users: [], roles: [ROLE.approver], everyone: false });
    // Times are Discord timestamps: each reader sees their own time zone.
    assert.match(embedOf(message)?.description ?? '', /Expires at <t:\d+:f> \(in [^)]+\)\./);
    assert.match(embedOf(message)?.description ?? '', /snapshot s1 \(taken <t:\d+:f>\)/);

    // The requester's click: refused, ephemeral, nothing happens.
    let c = await click(USER.alice, message.id, `approve:${jobId}:${requestId}`);
    assert.equal(c.ack.type, 4);
    assert.match(await ephemeralText(c.handle, c.ack), /You requested this/);
    // A member with no role: refused.
    c = await click(USER.carol, message.id, `approve:${jobId}:${requestId}`);
    assert.match(await ephemeralText(c.handle, c.ack), /Approver role needed/);
    c = await click(USER.carol, message.id, `reject:${jobId}:${requestId}`);
    assert.match(await ephemeralText(c.handle, c.ack), /Approver role needed/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(w.job(jobId).state, 'awaiting_approval', 'still waiting');
    assert.equal(w.store.approvals.get(jobId)?.state, 'pending');
    assert.ok(hasPattern(disk, 0xb2), 'nothing reverted');
    assert.ok(buttonsOf(w.emulator.message(message.id)).every((b) => b.disabled === false), 'the buttons still work');

    // The approver's click: acknowledged as a deferred update, the job runs, the data is back.
    c = await click(USER.bob, message.id, `approve:${jobId}:${requestId}`);
    assert.equal(c.ack.type, 6);
    const job = await w.finished(jobId);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.ok(hasPattern(disk, 0xa1), 'the disk holds the snapshot data again');
    const decided = await decidedWith(message.id, /^Approved/);
    assert.match(embedOf(decided)?.description ?? '', new RegExp(`Approved by <@${USER.bob}> <t:\\d+:f> \\(<t:\\d+:R>\\)\\.`));
    const audit = w.store.audit.list(1000).filter((e) => e.jobId === jobId && e.command === 'approval approve');
    assert.deepEqual(audit.map((e) => [e.userId, (e.options as { via?: string }).via]), [[USER.bob, 'button']]);

    // A late ✅ after a click decision changes nothing; a disabled button cannot be clicked.
    w.emulator.react(USER.root, w.emulator.channelId, message.id, '✅');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(w.store.approvals.get(jobId)?.decidedBy, USER.bob);
    assert.throws(() => w.emulator.clickButton({ user: USER.root, messageId: message.id, customId: `reject:${jobId}:${requestId}` }), /disabled/);
  });

  it('Reject by button cancels the job; nothing is reverted', async () => {
    const { jobId, message } = await requestRevert(0xc3);
    const { ack } = await click(USER.root, message.id, `reject:${jobId}:${w.job(jobId).requestId}`);
    assert.equal(ack.type, 6);
    const job = await w.finished(jobId);
    assert.equal(job.state, 'cancelled');
    assert.equal(w.store.approvals.get(jobId)?.state, 'rejected');
    const decided = await decidedWith(message.id, /^Rejected/);
    assert.match(embedOf(decided)?.description ?? '', new RegExp(`Rejected by <@${USER.root}> <t:\\d+:f> \\(<t:\\d+:R>\\)\\.`));
    assert.ok(hasPattern(disk, 0xc3), 'nothing reverted');
  });

  it('a reaction decision disables the buttons too', async () => {
    const { jobId, message } = await requestRevert(0xd4);
    w.emulator.react(USER.bob, w.emulator.channelId, message.id, '❌');
    assert.equal((await w.finished(jobId)).state, 'cancelled');
    await decidedWith(message.id, /^Rejected/);
    assert.ok(hasPattern(disk, 0xd4), 'nothing reverted');
  });

  it('a custom id naming another job is refused; a click after a restart works (nothing kept in memory)', async () => {
    const { jobId, message } = await requestRevert(0xe5);
    const requestId = w.job(jobId).requestId;
    const other = w.jobs().find((j) => j.id !== jobId && j.kind === 'snapshot.create')!;
    // Another job's own ids on this request, and this request's id under another job number: both
    // refused, nothing decided.
    assert.match(await rawClick(USER.bob, message.id, `approve:${other.id}:${other.requestId}`), new RegExp(`not the approval request of job #${other.id}`));
    assert.match(await rawClick(USER.bob, message.id, `approve:${other.id}:${requestId}`), /no longer exists/);
    assert.match(await rawClick(USER.bob, message.id, `approve:${jobId}:req-00000000-0000-4000-8000-000000000000`), /no longer exists/);
    assert.match(await rawClick(USER.bob, message.id, `approve:${jobId}`), /not one kvmops knows/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(w.store.approvals.get(jobId)?.state, 'pending');
    assert.equal(w.job(jobId).state, 'awaiting_approval');

    await w.restart();
    const { ack } = await click(USER.bob, message.id, `reject:${jobId}:${requestId}`);
    assert.equal(ack.type, 6);
    assert.equal((await w.finished(jobId)).state, 'cancelled');
    await decidedWith(message.id, /^Rejected/);
    assert.ok(hasPattern(disk, 0xe5), 'nothing reverted');
  });

  /**
   * A click whose custom id is not on the message (what a tampered client would send): the
   * emulator refuses to build it, so the test dispatches the payload of a real click with the
   * custom id replaced, as Discord would relay it if it did not check.
   */
  async function rawClick(user: string, messageId: string, customId: string): Promise<string> {
    const real = buttonsOf(w.emulator.message(messageId))[0]!.custom_id;
    // discord.js emits `raw` with the packet before it builds the interaction from it.
    const client = w.bot.discord.client;
    const onRaw = (packet: { t?: string; d?: { type?: number; data?: { custom_id?: string } } }) => {
      if (packet.t === 'INTERACTION_CREATE' && packet.d?.type === 3 && packet.d.data?.custom_id === real) packet.d.data.custom_id = customId;
    };
    client.prependListener('raw', onRaw);
    try {
      const handle = w.emulator.clickButton({ user, messageId, customId: real });
      const ack = await handle.response();
      return await ephemeralText(handle, ack);
    } finally {
      client.off('raw', onRaw);
    }
  }

  it('Cancel on a running job\'s status message: refused for others, stops it for the requester; gone when it ends', async () => {
    // A running VM without an OS ignores ACPI: a graceful stop runs until cancelled.
    virsh('start', vm);
    const a = await run(w, USER.alice, 'vm', 'stop', { vm });
    const jobId = a.jobId!;
    await w.emulator.waitFor(() => w.job(jobId).state === 'running', 20_000, 'the stop running');
    const status = await w.emulator.waitFor(() => {
      const s = w.statusMessages(jobId).at(-1);
      return s && w.statesOf(s).at(-1) === 'running' ? s : undefined;
    }, 20_000, 'the running status message');
    const cancel = buttonsOf(status);
    assert.deepEqual(cancel.map((b) => [b.custom_id, b.label, b.disabled]), [[`cancel:${jobId}:${w.job(jobId).requestId}`, 'Cancel', false]]);

    // bob is neither the requester nor an admin: refused, the job runs on.
    let c = await click(USER.bob, status.id, cancel[0]!.custom_id);
    assert.match(await ephemeralText(c.handle, c.ack), /Only .* or an admin may cancel it/);
    assert.equal(w.job(jobId).cancelRequested, false);

    c = await click(USER.alice, status.id, cancel[0]!.custom_id);
    assert.match(await ephemeralText(c.handle, c.ack), new RegExp(`Job #${jobId} asked to stop`));
    const job = await w.finished(jobId, 30_000);
    assert.equal(job.state, 'cancelled', JSON.stringify(job.error));
    assert.equal(job.error?.code, 'aborted', JSON.stringify(job.error));
    await w.emulator.waitFor(() => {
      const s = w.statusMessages(jobId).at(-1);
      return s && w.statesOf(s).at(-1) === 'cancelled' && s.components.length === 0;
    }, 10_000, 'the final status without its Cancel button');
    virshMaybe('destroy', vm);
  });

  it('KVMOPS_NOTIFY_APPROVERS=false: no mention, nobody pinged; the buttons are there', async () => {
    await w.restart({ notifyApprovers: 'false' });
    const { jobId, message } = await requestRevert(0xf7);
    assert.equal(message.content, '');
    assert.deepEqual(message.pings, { users: [], roles: [], everyone: false });
    assert.equal(buttonsOf(message).length, 2);
    await click(USER.bob, message.id, `reject:${jobId}:${w.job(jobId).requestId}`);
    assert.equal((await w.finished(jobId)).state, 'cancelled');
  });
});
