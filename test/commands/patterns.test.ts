import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { handleReaction } from '../../src/chat/approval-reactions.js';
import { withNames } from '../../src/chat/people.js';
import { PLACE, USERS, fixtureUuid, makeWorld, type World } from './fixture.js';

/**
 * VM patterns (docs/commands.md "Patterns"): `vm:web-*` on the commands that act on VMs is one
 * job per matched VM, one batch, and for a destructive kind one approval; refusals name what is
 * wrong and leave no job.
 */

let w: World;
beforeEach(() => {
  w = makeWorld({ rateLimit: { capacity: 1000 } });
  const local = w.hv.inv('local');
  for (const vm of ['web-02', 'web-03', 'web-04']) local.vms.set(vm, 'shut off');
  local.vms.set('webby', 'shut off'); // not web-*: the glob is over the whole name
  for (const vm of ['web-01', 'web-02', 'web-03', 'web-04']) {
    local.snapshots.set(vm, [...(local.snapshots.get(vm) ?? []), { name: 'before-patch', parent: null }]);
  }
});
afterEach(() => w.close());

const text = (r: { title: string; lines: string[] }) => withNames([r.title, ...r.lines].join('\n'));
const vmsOf = (jobs: Array<{ payload: Record<string, unknown> }>) => jobs.map((j) => j.payload.vm);

async function refused(p: ReturnType<World['run']>, code: string, re: RegExp) {
  const reply = await p;
  assert.equal(reply.code, code, JSON.stringify(reply));
  assert.equal(reply.visibility, 'ephemeral');
  assert.match(text(reply), re);
  assert.equal(w.jobCount(), 0, 'no job');
}

describe('a pattern is one job per matched VM, one batch', () => {
  it('snapshot create web-*: four jobs, each pinned, one batch; the reply names every VM', async () => {
    const reply = await w.run(USERS.alice, 'snapshot', 'create', { vm: 'web-*', name: 'pre' });
    assert.equal(reply.code, undefined, JSON.stringify(reply));
    assert.equal(reply.visibility, 'ephemeral');
    const jobs = w.store.batch(reply.jobId!);
    assert.deepEqual(vmsOf(jobs), ['web-01', 'web-02', 'web-03', 'web-04']);
    assert.deepEqual(jobs.map((j) => j.payload.vmUuid), ['web-01', 'web-02', 'web-03', 'web-04'].map(fixtureUuid));
    assert.deepEqual(jobs.map((j) => j.state), ['queued', 'queued', 'queued', 'queued']);
    assert.equal(w.jobCount(), 4);
    assert.match(text(reply), /Batch #\d+ queued: Snapshot 4 VMs matching "web-\*" on local as pre \(internal\)/);
    for (const [i, vm] of ['web-01', 'web-02', 'web-03', 'web-04'].entries()) assert.match(text(reply), new RegExp(`#${jobs[i]!.id} ${vm}\\b`));
    assert.doesNotMatch(text(reply), /webby/);
    assert.equal(w.audit()[0]?.outcome, 'accepted');
  });

  it('? is one character: db-0? and vm start', async () => {
    const local = w.hv.inv('local');
    for (const vm of ['db-01', 'db-02', 'db-010']) local.vms.set(vm, 'shut off');
    const reply = await w.run(USERS.alice, 'vm', 'start', { vm: 'db-0?' });
    assert.equal(reply.code, undefined, JSON.stringify(reply));
    assert.deepEqual(vmsOf(w.store.batch(reply.jobId!)), ['db-01', 'db-02']);
  });

  it('a name without * or ? is one job, as before (no batch)', async () => {
    const reply = await w.run(USERS.alice, 'vm', 'start', { vm: 'web-02' });
    assert.equal(reply.code, undefined, JSON.stringify(reply));
    assert.equal(w.store.get(reply.jobId!)!.batchId, null);
    assert.equal(w.jobCount(), 1);
  });

  it('/job status of any job of a batch says how each VM fared', async () => {
    const reply = await w.run(USERS.alice, 'vm', 'stop', { vm: 'web-0*' });
    const jobs = w.store.batch(reply.jobId!);
    await w.store.requestCancel(jobs[2]!.id, { id: 'alice', name: 'alice' });
    const status = await w.run(USERS.carol, 'job', 'status', { id: jobs[1]!.id });
    const t = text(status);
    assert.match(t, new RegExp(`batch #${jobs[0]!.id}: 4 jobs, 1 ended — 1 cancelled, 3 queued`));
    assert.match(t, new RegExp(`#${jobs[2]!.id} web-03: cancelled — aborted: cancelled by alice`));
    assert.match(t, new RegExp(`#${jobs[0]!.id} web-01: queued`));
  });
});

describe('refusals: none match, too many, invalid, a VM that cannot', () => {
  it('no VM matches: refused only after a fresh read (a VM made since the cached list is found)', async () => {
    await refused(w.run(USERS.alice, 'vm', 'start', { vm: 'new-*' }), 'vm-not-found', /No VM on local matches "new-\*"/);
    w.hv.inv('local').vms.set('new-1', 'shut off');
    const reply = await w.run(USERS.alice, 'vm', 'start', { vm: 'new-*' });
    assert.equal(reply.code, undefined, JSON.stringify(reply));
    assert.deepEqual(vmsOf(w.store.batch(reply.jobId!)), ['new-1']);
  });

  it('more than KVMOPS_MAX_BATCH: refused, saying how many', async () => {
    w.services.config.maxBatch = 3;
    await refused(w.run(USERS.alice, 'snapshot', 'create', { vm: 'web-*', name: 'pre' }), 'too-many-vms', /matches 4 VMs on local; .* at most 3/);
    w.services.config.maxBatch = 4;
    const ok = await w.run(USERS.alice, 'snapshot', 'create', { vm: 'web-*', name: 'pre' });
    assert.equal(ok.code, undefined, JSON.stringify(ok));
  });

  it('the other name rules stay: only * and ? are wildcards', async () => {
    for (const vm of ['web-[12]', 'web *', 'web/*', '*;ls']) {
      await refused(w.run(USERS.alice, 'vm', 'start', { vm }), 'invalid-input', /vm/);
    }
  });

  it('a revert pattern where some VM lacks the snapshot: refused up front, naming each', async () => {
    w.hv.inv('local').snapshots.set('web-03', []);
    w.hv.inv('local').snapshots.set('web-04', [{ name: 'other', parent: null }]);
    const reply = await w.run(USERS.alice, 'snapshot', 'revert', { vm: 'web-*', name: 'before-patch' });
    assert.equal(reply.code, 'snapshot-not-found');
    assert.match(text(reply), /2 of the 4 VMs matching "web-\*"/);
    assert.match(text(reply), /web-03: VM "web-03" on local has no snapshot "before-patch"/);
    assert.match(text(reply), /web-04: /);
    assert.doesNotMatch(text(reply), /web-01:|web-02:/);
    assert.equal(w.jobCount(), 0);
  });

  it('snapshot create where a name is taken on some VM: refused, naming it', async () => {
    await refused(w.run(USERS.alice, 'snapshot', 'create', { vm: 'web-*', name: 'clean' }), 'name-taken', /web-01: Snapshot "clean" already exists/);
  });

  it('all or none: a live job on one matched VM refuses the batch', async () => {
    const first = await w.run(USERS.alice, 'vm', 'start', { vm: 'web-03' });
    const reply = await w.run(USERS.alice, 'vm', 'start', { vm: 'web-*' });
    assert.equal(reply.code, 'duplicate-job');
    assert.match(text(reply), new RegExp(`job #${first.jobId}`));
    assert.equal(w.jobCount(), 1);
  });
});

describe('a destructive pattern: one approval lists every VM and decides them all', () => {
  async function requestRevert() {
    const reply = await w.run(USERS.alice, 'snapshot', 'revert', { vm: 'web-*', name: 'before-patch' });
    assert.equal(reply.code, undefined, JSON.stringify(reply));
    assert.equal(reply.visibility, 'public');
    assert.equal(reply.approvalJobId, reply.jobId);
    const jobs = w.store.batch(reply.jobId!);
    assert.deepEqual(vmsOf(jobs), ['web-01', 'web-02', 'web-03', 'web-04']);
    // Each to its own snapshot of that name, pinned with that VM's uuid.
    for (const j of jobs) {
      assert.equal(j.payload.name, 'before-patch');
      assert.match(text(reply), new RegExp(`#${j.id} VM ${j.payload.vm as string} \\(uuid ${fixtureUuid(j.payload.vm as string).slice(0, 8)}\\); snapshot before-patch \\(taken `));
    }
    assert.match(text(reply), /Approval needed for batch #\d+: Revert 4 VMs matching "web-\*" on local, each to its own snapshot before-patch/);
    assert.match(text(reply), /reacts ✅ to approve all 4 or ❌ to reject all 4/);
    w.store.approvals.attachMessage(reply.jobId!, { adapter: PLACE.adapter, channelId: PLACE.channelId, messageId: 'm-1' });
    return jobs;
  }

  it('one ✅ queues all four', async () => {
    const jobs = await requestRevert();
    assert.deepEqual(jobs.map((j) => j.state), ['awaiting_approval', 'awaiting_approval', 'awaiting_approval', 'awaiting_approval']);
    const outcome = await handleReaction({ place: PLACE, messageId: 'm-1', user: USERS.bob, emoji: '✅' }, w.services);
    assert.equal(outcome.kind, 'approved');
    assert.deepEqual(w.store.batch(jobs[0]!.id).map((j) => j.state), ['queued', 'queued', 'queued', 'queued']);
  });

  it("the requester's own ✅ does not count; one ❌ cancels all four", async () => {
    const jobs = await requestRevert();
    const own = await handleReaction({ place: PLACE, messageId: 'm-1', user: USERS.alice, emoji: '✅' }, w.services);
    assert.deepEqual(own, { kind: 'ignored', reason: 'requester' });
    const outcome = await handleReaction({ place: PLACE, messageId: 'm-1', user: USERS.bob, emoji: '❌' }, w.services);
    assert.equal(outcome.kind, 'rejected');
    assert.deepEqual(w.store.batch(jobs[0]!.id).map((j) => [j.state, j.error?.message]), [
      ['cancelled', 'rejected by bob'],
      ['cancelled', 'rejected by bob'],
      ['cancelled', 'rejected by bob'],
      ['cancelled', 'rejected by bob'],
    ]);
  });

  it('vm delete web-* is one approval too', async () => {
    const reply = await w.run(USERS.alice, 'vm', 'delete', { vm: 'web-0?' });
    assert.equal(reply.visibility, 'public');
    assert.equal(w.store.batch(reply.jobId!).length, 4);
    assert.deepEqual(w.store.approvals.listPending().length, 4);
  });
});
