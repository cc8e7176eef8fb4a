import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { PLACE, USERS, makeWorld, user, type World } from '../commands/fixture.js';
import { handleReaction, reconcilePending } from '../../src/chat/approval-reactions.js';
import type { ChatUser } from '../../src/chat/types.js';

/**
 * Approval by reaction over the real store: the contract's policy, and catching up on reactions
 * made while the bot was down.
 */

let w: World;
afterEach(() => w?.close());

/** alice requests a revert; the adapter posts it as message `msg-<id>` and attaches it. */
async function request(world: World, requester: ChatUser = USERS.alice): Promise<{ jobId: number; messageId: string }> {
  const r = await world.run(requester, 'snapshot', 'revert', { vm: 'web-01', name: 'clean' });
  assert.ok(r.approvalJobId, JSON.stringify(r));
  const messageId = `msg-${r.approvalJobId}`;
  world.store.approvals.attachMessage(r.approvalJobId, { adapter: 'test', channelId: PLACE.channelId, messageId });
  return { jobId: r.approvalJobId, messageId };
}

const react = (world: World, messageId: string, u: ChatUser, emoji: string) =>
  handleReaction({ place: PLACE, messageId, user: u, emoji }, world.services);

describe('handleReaction', () => {
  it("an approver's ✅ queues the job and is audited", async () => {
    w = makeWorld();
    const { jobId, messageId } = await request(w);
    assert.deepEqual(await react(w, messageId, USERS.bob, '✅'), { kind: 'approved', jobId });
    assert.equal(w.store.get(jobId)!.state, 'queued');
    assert.equal(w.store.approvals.get(jobId)!.decidedBy, 'bob');
    const [row] = w.audit();
    assert.equal(row?.command, 'approval approve');
    assert.equal(row?.userId, 'bob');
    assert.equal(row?.jobId, jobId);
  });

  it("an approver's ❌ cancels it as rejected", async () => {
    w = makeWorld();
    const { jobId, messageId } = await request(w);
    assert.deepEqual(await react(w, messageId, USERS.victor, '❌'), { kind: 'rejected', jobId });
    const job = w.store.get(jobId)!;
    assert.equal(job.state, 'cancelled');
    assert.match(job.error?.message ?? '', /rejected by victor/);
    assert.equal(w.audit()[0]?.command, 'approval reject');
  });

  it("with two-person on, the requester's own reactions do not count, even as an approver", async () => {
    w = makeWorld({ twoPerson: true });
    const { jobId, messageId } = await request(w, USERS.bob);
    assert.deepEqual(await react(w, messageId, USERS.bob, '✅'), { kind: 'ignored', reason: 'requester' });
    assert.deepEqual(await react(w, messageId, USERS.bob, '❌'), { kind: 'ignored', reason: 'requester' });
    assert.equal(w.store.get(jobId)!.state, 'awaiting_approval');
    assert.equal(w.audit()[0]?.command, 'snapshot revert'); // no decision row
  });

  it("with two-person off, the requester's ✅ counts when they are an approver", async () => {
    w = makeWorld({ twoPerson: false });
    const { jobId, messageId } = await request(w, USERS.bob);
    assert.deepEqual(await react(w, messageId, USERS.bob, '✅'), { kind: 'approved', jobId });
  });

  it('reactions from members without the approver role are ignored — admins included', async () => {
    w = makeWorld();
    const { jobId, messageId } = await request(w);
    for (const u of [USERS.dave, USERS.carol, USERS.erin, user('x', [])]) {
      assert.deepEqual(await react(w, messageId, u, '✅'), { kind: 'ignored', reason: 'not-approver' });
    }
    assert.equal(w.store.get(jobId)!.state, 'awaiting_approval');
  });

  it('other emojis, other messages and bots are ignored', async () => {
    w = makeWorld();
    const { jobId, messageId } = await request(w);
    assert.deepEqual(await react(w, messageId, USERS.bob, '👍'), { kind: 'ignored', reason: 'other-emoji' });
    assert.deepEqual(await react(w, 'some-other-message', USERS.bob, '✅'), { kind: 'ignored', reason: 'not-an-approval' });
    const bot = user('kvmops-bot', ['approver'], { bot: true });
    assert.deepEqual(await react(w, messageId, bot, '✅'), { kind: 'ignored', reason: 'bot' });
    assert.equal(w.store.get(jobId)!.state, 'awaiting_approval');
  });

  it('accepts the emoji with a variation selector', async () => {
    w = makeWorld();
    const { jobId, messageId } = await request(w);
    assert.deepEqual(await react(w, messageId, USERS.bob, '❌\uFE0F'), { kind: 'rejected', jobId });
  });

  it('the first decision wins; a second one is ignored as already-decided', async () => {
    w = makeWorld();
    const { jobId, messageId } = await request(w);
    const [a, b] = await Promise.all([react(w, messageId, USERS.bob, '✅'), react(w, messageId, USERS.victor, '❌')]);
    assert.deepEqual(a, { kind: 'approved', jobId });
    assert.deepEqual(b, { kind: 'ignored', reason: 'already-decided' });
    assert.equal(w.store.get(jobId)!.state, 'queued');
    assert.equal(w.audit().filter((r) => r.command.startsWith('approval')).length, 1);
  });

  it('a request past its expiry cannot be approved', async () => {
    w = makeWorld();
    const { jobId, messageId } = await request(w);
    w.clock.advance(30 * 60_000);
    assert.deepEqual(await react(w, messageId, USERS.bob, '✅'), { kind: 'ignored', reason: 'already-decided' });
    assert.notEqual(w.store.get(jobId)!.state, 'queued');
  });

  it('a request cancelled with /job cancel cannot be approved', async () => {
    w = makeWorld();
    const { jobId, messageId } = await request(w);
    await w.run(USERS.alice, 'job', 'cancel', { id: jobId });
    assert.deepEqual(await react(w, messageId, USERS.bob, '✅'), { kind: 'ignored', reason: 'already-decided' });
    assert.equal(w.store.get(jobId)!.state, 'cancelled');
  });
});

describe('reconcilePending', () => {
  it('counts reactions made while the bot was down, through the same policy', async () => {
    w = makeWorld();
    const approved = await request(w);
    w.hv.inv().snapshots.set('db', [{ name: 'x', parent: null }]);
    const r2 = await w.run(USERS.alice, 'snapshot', 'revert', { vm: 'db', name: 'x' });
    const rejected = { jobId: r2.approvalJobId!, messageId: 'msg-r2' };
    w.store.approvals.attachMessage(rejected.jobId, { adapter: 'test', channelId: 'c', messageId: rejected.messageId });
    const r3 = await w.run(USERS.alice, 'vm', 'delete', { vm: 'golden' });
    const untouched = { jobId: r3.approvalJobId!, messageId: 'msg-r3' };
    w.store.approvals.attachMessage(untouched.jobId, { adapter: 'test', channelId: 'c', messageId: untouched.messageId });
    const r4 = await w.run(USERS.alice, 'vm', 'delete', { vm: 'db' }); // never posted: no message to read

    const bot = user('kvmops-bot', [], { bot: true });
    const onMessage: Record<string, Array<{ user: ChatUser; emoji: string }>> = {
      [approved.messageId]: [
        { user: bot, emoji: '✅' },
        { user: bot, emoji: '❌' },
        { user: USERS.alice, emoji: '✅' }, // the requester: does not count
        { user: USERS.dave, emoji: '✅' }, // no role: does not count
        { user: USERS.bob, emoji: '✅' },
      ],
      [rejected.messageId]: [
        { user: USERS.bob, emoji: '✅' },
        { user: USERS.victor, emoji: '❌' }, // order is lost: rejection wins
      ],
      [untouched.messageId]: [
        { user: bot, emoji: '✅' },
        { user: USERS.alice, emoji: '✅' },
      ],
    };
    const read: string[] = [];
    const results = await reconcilePending(w.services, async (a) => {
      read.push(a.messageId!);
      return onMessage[a.messageId!] ?? [];
    });
    assert.deepEqual(read.sort(), [approved.messageId, rejected.messageId, untouched.messageId].sort());
    const byJob = new Map(results.map((r) => [r.jobId, r.outcome]));
    assert.deepEqual(byJob.get(approved.jobId), { kind: 'approved', jobId: approved.jobId });
    assert.deepEqual(byJob.get(rejected.jobId), { kind: 'rejected', jobId: rejected.jobId });
    assert.equal(byJob.get(untouched.jobId)?.kind, 'ignored');
    assert.equal(w.store.get(approved.jobId)!.state, 'queued');
    assert.equal(w.store.get(rejected.jobId)!.state, 'cancelled');
    assert.equal(w.store.get(untouched.jobId)!.state, 'awaiting_approval');
    assert.equal(w.store.get(r4.approvalJobId!)!.state, 'awaiting_approval');
    assert.equal(w.audit().filter((r) => r.command.startsWith('approval')).length, 2);

    // Running it again changes nothing: decided requests are no longer pending.
    const again = await reconcilePending(w.services, async (a) => onMessage[a.messageId!] ?? []);
    assert.deepEqual(again.map((r) => r.jobId), [untouched.jobId]);
  });

  it('a message that cannot be read is skipped, the others still count', async () => {
    w = makeWorld();
    const a = await request(w);
    const r2 = await w.run(USERS.alice, 'vm', 'delete', { vm: 'db' });
    w.store.approvals.attachMessage(r2.approvalJobId!, { adapter: 'test', channelId: 'c', messageId: 'gone' });
    const results = await reconcilePending(w.services, async (ap) => {
      if (ap.messageId === 'gone') throw new Error('Unknown Message');
      return [{ user: USERS.bob, emoji: '✅' }];
    });
    assert.deepEqual(results, [{ jobId: a.jobId, outcome: { kind: 'approved', jobId: a.jobId } }]);
    assert.ok(w.logs.some((l) => l.level === 'warn'));
  });
});
