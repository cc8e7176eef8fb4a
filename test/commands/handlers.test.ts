import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { USERS, makeWorld, type World } from './fixture.js';
import { person, withNames } from '../../src/chat/people.js';

/**
 * The handlers over the real store: existence checks before a job exists, duplicates, approval
 * requests, reads, and /job.
 */

let w: World;
beforeEach(() => {
  w = makeWorld({ rateLimit: { capacity: 1000 } });
});
afterEach(() => w.close());

async function refusedWithNoJob(p: ReturnType<World['run']>, code: string, text?: RegExp) {
  const reply = await p;
  assert.equal(reply.code, code, JSON.stringify(reply));
  assert.equal(reply.visibility, 'ephemeral');
  if (text) assert.match([reply.title, ...reply.lines].join('\n'), text);
  assert.equal(w.jobCount(), 0);
  const [row] = w.audit();
  assert.equal(row?.outcome, 'refused');
  assert.equal(row?.code, code);
}

describe('unknown things are refused with no job', () => {
  it('unknown template', () => refusedWithNoJob(w.run(USERS.alice, 'deploy', null, { template: 'nope', name: 'x' }), 'template-not-found', /nope/));
  it('unknown host', () =>
    refusedWithNoJob(w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'x', host: 'mars' }), 'host-not-found', /mars/));
  it('unknown VM: start, stop, delete, snapshot, template create, info', async () => {
    await refusedWithNoJob(w.run(USERS.alice, 'vm', 'start', { vm: 'ghost' }), 'vm-not-found', /ghost/);
    await refusedWithNoJob(w.run(USERS.alice, 'vm', 'stop', { vm: 'ghost' }), 'vm-not-found');
    await refusedWithNoJob(w.run(USERS.alice, 'vm', 'delete', { vm: 'ghost' }), 'vm-not-found');
    await refusedWithNoJob(w.run(USERS.alice, 'snapshot', 'create', { vm: 'ghost', name: 's' }), 'vm-not-found');
    await refusedWithNoJob(w.run(USERS.erin, 'template', 'create', { vm: 'ghost', name: 't' }), 'vm-not-found');
    await refusedWithNoJob(w.run(USERS.carol, 'vm', 'info', { vm: 'ghost' }), 'vm-not-found');
  });
  it('a VM that exists on another host only', () => refusedWithNoJob(w.run(USERS.alice, 'vm', 'start', { vm: 'far' }), 'vm-not-found', /local/));
  it('unknown snapshot: revert and delete', async () => {
    await refusedWithNoJob(w.run(USERS.alice, 'snapshot', 'revert', { vm: 'web-01', name: 'nope' }), 'snapshot-not-found', /nope/);
    await refusedWithNoJob(w.run(USERS.alice, 'snapshot', 'delete', { vm: 'db', name: 'clean' }), 'snapshot-not-found');
  });
  it('unknown template for delete', () => refusedWithNoJob(w.run(USERS.erin, 'template', 'delete', { name: 'nope' }), 'template-not-found'));
});

describe('things in the way are refused with no job', () => {
  it('deploy onto names that exist', async () => {
    await refusedWithNoJob(w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'db' }), 'name-taken', /db/);
    await refusedWithNoJob(w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'web', count: 3 }), 'name-taken', /web-01/);
  });
  it('deploy onto names a live deploy is making (not on the host yet): refused, naming that job', async () => {
    const first = await w.run(USERS.alice, 'deploy', null, { template: 'base', name: 'r', count: 6 });
    assert.equal(first.code, undefined, JSON.stringify(first));
    const id = first.jobId!;
    const second = await w.run(USERS.bob, 'deploy', null, { template: 'base', name: 'r-03' });
    assert.equal(second.code, 'name-taken');
    assert.match([second.title, ...second.lines].join('\n'), new RegExp(`"r-03" is already being made by job #${id}`));
    assert.equal(w.jobCount(), 1, 'no second job');
  });
  it('template create with a name a live template create is making', async () => {
    const first = await w.run(USERS.erin, 'template', 'create', { vm: 'golden', name: 'fresh' });
    assert.equal(first.code, undefined, JSON.stringify(first));
    w.hv.inv().vms.set('other', 'shut off');
    const second = await w.run(USERS.erin, 'template', 'create', { vm: 'other', name: 'fresh' });
    assert.equal(second.code, 'name-taken');
    assert.match([second.title, ...second.lines].join('\n'), new RegExp(`job #${first.jobId}`));
    assert.equal(w.jobCount(), 1);
  });
  it('template create from a running VM', () =>
    refusedWithNoJob(w.run(USERS.erin, 'template', 'create', { vm: 'web-01', name: 't' }), 'vm-running'));
  it('template create with a taken name', () =>
    refusedWithNoJob(w.run(USERS.erin, 'template', 'create', { vm: 'golden', name: 'base' }), 'name-taken'));
  it('template delete while thin VMs depend on it', () =>
    refusedWithNoJob(w.run(USERS.erin, 'template', 'delete', { name: 'base' }), 'template-in-use', /web-01/));
  it('snapshot create with a taken name', () =>
    refusedWithNoJob(w.run(USERS.alice, 'snapshot', 'create', { vm: 'web-01', name: 'clean' }), 'name-taken'));
});

describe('the cache never causes a wrong refusal', () => {
  it('a VM created after the list was cached is found (a miss re-reads the host)', async () => {
    await w.run(USERS.carol, 'vm', 'list', {});
    w.hv.inv().vms.set('newborn', 'shut off');
    const r = await w.run(USERS.alice, 'vm', 'start', { vm: 'newborn' });
    assert.equal(r.code, undefined, JSON.stringify(r));
    assert.equal(w.jobCount(), 1);
  });
  it('a VM stopped after the list was cached can become a template', async () => {
    await w.run(USERS.carol, 'vm', 'list', {});
    w.hv.inv().vms.set('web-01', 'shut off');
    const r = await w.run(USERS.erin, 'template', 'create', { vm: 'web-01', name: 'web-tpl' });
    assert.equal(r.code, undefined, JSON.stringify(r));
  });
  it('a host that does not answer is an error reply, audited as error, with no job', async () => {
    w.hv.mode = 'unreachable';
    const r = await w.run(USERS.alice, 'vm', 'start', { vm: 'db' });
    assert.equal(r.code, 'host-unreachable');
    assert.equal(r.tone, 'error');
    assert.equal(w.jobCount(), 0);
    assert.equal(w.audit()[0]?.outcome, 'error');
  });
});

describe('accepted jobs', () => {
  it('reply with the job id, ephemerally, and report to where the command was typed', async () => {
    const r = await w.run(USERS.alice, 'vm', 'start', { vm: 'db' });
    assert.equal(r.visibility, 'ephemeral');
    assert.match(r.title, new RegExp(`#${r.jobId}`));
    const job = w.store.get(r.jobId!)!;
    assert.equal(job.kind, 'vm.start');
    assert.deepEqual(job.requester, { id: 'alice', name: 'alice' });
    assert.deepEqual(job.notify, { adapter: 'test', guildId: w.services.config.guildId, channelId: 'chan-1' });
    const [row] = w.audit();
    assert.equal(row?.outcome, 'accepted');
    assert.equal(row?.jobId, r.jobId);
    assert.equal(row?.command, 'vm start');
    assert.deepEqual(row?.options, { vm: 'db' });
  });

  it('a live duplicate is refused naming the live job id', async () => {
    const first = await w.run(USERS.alice, 'snapshot', 'create', { vm: 'db', name: 'dup' });
    const second = await w.run(USERS.bob, 'snapshot', 'create', { vm: 'db', name: 'dup' });
    assert.equal(second.code, 'duplicate-job');
    assert.match(second.lines.join('\n'), new RegExp(`#${first.jobId}\\b`));
    assert.equal(w.jobCount(), 1);
    assert.equal(w.audit()[0]?.code, 'duplicate-job');
  });

  it('the same command on another host is not a duplicate', async () => {
    w.hv.inv('remote').vms.set('db', 'shut off');
    await w.run(USERS.alice, 'vm', 'start', { vm: 'db' });
    const r = await w.run(USERS.alice, 'vm', 'start', { vm: 'db', host: 'remote' });
    assert.equal(r.code, undefined);
    assert.equal(w.store.get(r.jobId!)!.payload.host, 'remote');
  });
});

describe('approval kinds', () => {
  for (const [sub, cmd, opts] of [
    ['revert', 'snapshot', { vm: 'web-01', name: 'clean' }],
    ['delete', 'vm', { vm: 'db' }],
  ] as const) {
    it(`/${cmd} ${sub} posts a public approval request`, async () => {
      const r = await w.run(USERS.alice, cmd, sub, opts);
      assert.equal(r.code, undefined, JSON.stringify(r));
      assert.equal(r.visibility, 'public');
      assert.equal(r.tone, 'warning');
      assert.ok(r.approvalJobId);
      const job = w.store.get(r.approvalJobId)!;
      assert.equal(job.state, 'awaiting_approval');
      const text = [r.title, ...r.lines].join('\n');
      // The requester is a person (adapters draw it: Discord a mention, the shell the name).
      assert.match(text, new RegExp(`Requested by ${person({ id: 'alice', name: 'alice' })}\\.`));
      assert.match(withNames(text), /approver role other than alice/);
      assert.match(text, /✅/);
      assert.match(text, /❌/);
      const approval = w.store.approvals.get(job.id)!;
      assert.equal(approval.expiresAt, w.clock.now() + 30 * 60_000);
      assert.match(withNames(text), /Expires at 2025-05-01 12:30 UTC \(in 30m\)/, 'the shell shows the moment as UTC text');
      assert.equal(w.audit()[0]?.jobId, job.id);
    });
  }

  it('without two-person, the text does not exclude the requester', async () => {
    const w2 = makeWorld({ twoPerson: false });
    try {
      const r = await w2.run(USERS.alice, 'vm', 'delete', { vm: 'db' });
      assert.doesNotMatch(r.lines.join('\n'), /other than/);
    } finally {
      w2.close();
    }
  });
});

describe('reads', () => {
  it('/vm list: a table, ephemeral, audited as read, no job', async () => {
    const r = await w.run(USERS.carol, 'vm', 'list', {});
    assert.equal(r.visibility, 'ephemeral');
    assert.match(r.lines.join('\n'), /web-01\s+running/);
    assert.equal(w.jobCount(), 0);
    assert.equal(w.audit()[0]?.outcome, 'read');
  });
  it('/vm list on another host', async () => {
    const r = await w.run(USERS.carol, 'vm', 'list', { host: 'remote' });
    assert.match(r.lines.join('\n'), /far/);
    assert.doesNotMatch(r.lines.join('\n'), /golden/);
  });
  it('/vm info', async () => {
    const r = await w.run(USERS.carol, 'vm', 'info', { vm: 'web-01' });
    const text = r.lines.join('\n');
    assert.match(text, /state: running/);
    assert.match(text, /disk vda/);
    assert.match(text, /clean/);
  });
  it('/snapshot list is a tree', async () => {
    const r = await w.run(USERS.carol, 'snapshot', 'list', { vm: 'web-01' });
    assert.deepEqual(r.lines, ['clean (internal, shutoff)', '  before-upgrade (internal, shutoff) ← current']);
  });
  it('/template list', async () => {
    const r = await w.run(USERS.carol, 'template', 'list', {});
    assert.match(r.lines.join('\n'), /base .* 1 \(web-01\)/);
  });
});

describe('/job', () => {
  it('status shows state, times and the requester', async () => {
    const { jobId } = await w.run(USERS.alice, 'vm', 'start', { vm: 'db' });
    const r = await w.run(USERS.carol, 'job', 'status', { id: jobId! });
    assert.equal(r.title, `Job #${jobId} queued`);
    assert.match(r.lines.join('\n'), /Start db on local/);
    assert.match(withNames(r.lines.join('\n')), /requested by alice at 2025-05-01 12:00 UTC/);
  });
  it('status of a failed job shows the error', async () => {
    const { jobId } = await w.run(USERS.alice, 'vm', 'start', { vm: 'db' });
    const claimed = w.store.claim('w1', 60_000)!;
    w.store.progress(claimed.lease, { step: 'booting', fraction: 0.5 });
    const running = await w.run(USERS.carol, 'job', 'status', { id: jobId! });
    assert.match(running.lines.join('\n'), /progress: booting \(50%\)/);
    w.store.fail(claimed.lease, { code: 'command-failed', message: 'virsh said no' }, { retry: false });
    const r = await w.run(USERS.carol, 'job', 'status', { id: jobId! });
    assert.equal(r.tone, 'error');
    assert.match(r.lines.join('\n'), /error: command-failed: virsh said no/);
  });
  it('status of an unknown job', async () => {
    const r = await w.run(USERS.carol, 'job', 'status', { id: 999 });
    assert.equal(r.code, 'job-not-found');
  });
  it('list: newest first, filtered by state and mine', async () => {
    const a = await w.run(USERS.alice, 'vm', 'start', { vm: 'db' });
    const b = await w.run(USERS.bob, 'vm', 'stop', { vm: 'web-01' });
    const c = await w.run(USERS.bob, 'vm', 'delete', { vm: 'golden' });
    const all = await w.run(USERS.carol, 'job', 'list', {});
    assert.deepEqual(
      all.lines.map((l) => l.split(' ')[0]),
      [c, b, a].map((r) => `#${r.jobId}`),
    );
    const mine = await w.run(USERS.bob, 'job', 'list', { mine: true });
    assert.deepEqual(mine.lines.map((l) => l.split(' ')[0]), [c, b].map((r) => `#${r.jobId}`));
    const waiting = await w.run(USERS.carol, 'job', 'list', { state: 'awaiting_approval' });
    assert.deepEqual(waiting.lines.map((l) => l.split(' ')[0]), [`#${c.jobId}`]);
    const none = await w.run(USERS.carol, 'job', 'list', { state: 'failed' });
    assert.deepEqual(none.lines, ['(no jobs)']);
  });
  it('cancel: the requester may', async () => {
    const { jobId } = await w.run(USERS.alice, 'vm', 'start', { vm: 'db' });
    const r = await w.run(USERS.alice, 'job', 'cancel', { id: jobId! });
    assert.equal(r.code, undefined, JSON.stringify(r));
    assert.equal(w.store.get(jobId!)!.state, 'cancelled');
    const [row] = w.audit();
    assert.equal(row?.outcome, 'accepted');
    assert.equal(row?.jobId, jobId);
  });
  it('cancel: an admin may; another operator may not', async () => {
    const { jobId } = await w.run(USERS.alice, 'vm', 'delete', { vm: 'db' });
    const bob = await w.run(USERS.bob, 'job', 'cancel', { id: jobId! });
    assert.equal(bob.code, 'forbidden');
    assert.match(bob.lines.join('\n'), /alice/);
    assert.equal(w.audit()[0]?.jobId, jobId);
    assert.equal(w.store.get(jobId!)!.state, 'awaiting_approval');
    const erin = await w.run(USERS.erin, 'job', 'cancel', { id: jobId! });
    assert.equal(erin.code, undefined);
    assert.equal(w.store.get(jobId!)!.state, 'cancelled');
  });
  it('cancel: a running job is asked to stop; a finished one is not cancellable', async () => {
    const { jobId } = await w.run(USERS.alice, 'vm', 'start', { vm: 'db' });
    const claimed = w.store.claim('w1', 60_000)!;
    const r = await w.run(USERS.alice, 'job', 'cancel', { id: jobId! });
    assert.match(r.title, /asked to stop/);
    w.store.cancelRunning(claimed.lease, 'stopped');
    const again = await w.run(USERS.alice, 'job', 'cancel', { id: jobId! });
    assert.equal(again.code, 'not-cancellable');
  });
});
