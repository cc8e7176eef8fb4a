/**
 * The Discord bot while ANOTHER PROCESS holds the database's write lock (BEGIN IMMEDIATE) for
 * longer than the old busy_timeout: the real discord.js Client against the emulator, the real
 * adapter, store, worker and notifier, real libvirt. Commands are still acknowledged within
 * Discord's 3 seconds; what they write, and a ✅ made meanwhile, is written once the lock is gone.
 *
 * Run: node --import tsx --test test/discord/db-busy.test.ts   (KVMOPS_TEST_LOG=debug for logs)
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LONGER_THAN_OLD_BUSY_TIMEOUT_MS, holdWriteLock } from '../../jobs/db-lock.js';
import { createDisk, defineVm, domState, hasPattern, skipUnlessLibvirt, writePattern } from '../../helpers/libvirt.js';
import { run } from './helpers.js';
import { DiscordWorld, USER, embedOf } from './world.js';

describe('Discord: a database locked by another process', { ...skipUnlessLibvirt(), timeout: 240_000 }, () => {
  let w: DiscordWorld;
  let dbFile: string;
  const newVm = (suffix: string): { vm: string; disk: string } => {
    const vm = w.lab.vmName(suffix);
    const disk = createDisk(path.join(w.lab.storage.vmsDir, `${vm}--vda.qcow2`));
    defineVm(vm, [disk]);
    return { vm, disk };
  };

  before(async () => {
    w = new DiscordWorld('dbusy');
    await w.start();
    dbFile = path.join(w.dbDir, 'kvmops.db');
  });
  after(async () => {
    await w?.close();
  });

  it('commands are acknowledged while it is held; the job is written after the release and the reply names it', async (t) => {
    const { vm } = newVm('start');
    const lock = await holdWriteLock(dbFile, t);
    // A change (its enqueue must wait) and a read (its audit row must wait).
    const start = w.emulator.sendSlashCommand({ user: USER.alice, name: 'vm', subcommand: 'start', options: { vm } });
    const list = w.emulator.sendSlashCommand({ user: USER.alice, name: 'job', subcommand: 'list', options: {} });
    const [startAck, listAck] = await Promise.all([start.response(), list.response()]);
    const ackedWhileLocked = Date.now();
    for (const [what, ack] of [['/vm start', startAck], ['/job list', listAck]] as const) {
      t.diagnostic(`${what}: callback type ${ack.type} after ${ack.receivedAfterMs} ms`);
      assert.equal(ack.late, false, `${what} acknowledged within Discord's deadline`);
      assert.ok(ack.status < 400, `${what} ack refused: HTTP ${ack.status}`);
      assert.equal(ack.type, 5, `${what}: deferred, to be edited once the database answers`);
    }
    assert.equal(w.jobs().length, 0, 'nothing could be written yet');
    await lock.releaseAfter(LONGER_THAN_OLD_BUSY_TIMEOUT_MS);
    assert.ok(ackedWhileLocked < Date.now());

    const answer = await w.emulator.waitFor(() => {
      const m = start.original();
      return m && m.edits.length > 0 ? m : undefined;
    }, 20_000, 'the /vm start reply edited');
    const text = [embedOf(answer)?.title, embedOf(answer)?.description, answer.content].filter(Boolean).join('\n');
    const id = Number(/job #(\d+)/i.exec(text)?.[1]);
    assert.ok(id, `the reply names the job: ${text}`);
    const job = await w.finished(id);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.equal(domState(vm), 'running');
    assert.deepEqual(w.jobs().map((j) => [j.kind, j.payload.vm]), [['vm.start', vm]], 'one job, written once');
    await w.emulator.waitFor(() => (list.original()?.edits.length ?? 0) > 0, 20_000, 'the /job list reply edited');
    const audited = w.store.audit.list(10).map((a) => a.command).sort();
    assert.deepEqual(audited, ['job list', 'vm start'], 'both audit rows written after the release');
  });

  it('a ✅ made while it is held is applied after the release: the revert runs and the data is back', async (t) => {
    const { vm, disk } = newVm('rev');
    writePattern(disk, 0xa1); // what the snapshot keeps
    await w.bot.core.hypervisor.host('local').createSnapshot({ vm, name: 's1', kind: 'internal' });
    writePattern(disk, 0xb2); // the change the revert undoes
    const a = await run(w, USER.alice, 'snapshot', 'revert', { vm, name: 's1' });
    const jobId = a.jobId!;
    const approval = w.store.approvals.get(jobId)!;
    const message = await w.emulator.waitFor(() => {
      const m = w.emulator.message(approval.messageId!);
      return m && m.reactions.length === 2 ? m : undefined;
    }, 5_000, 'the request with ✅ and ❌');

    const lock = await holdWriteLock(dbFile, t);
    w.emulator.react(USER.bob, w.emulator.channelId, message.id, '✅');
    const released = lock.releaseAfter(LONGER_THAN_OLD_BUSY_TIMEOUT_MS);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(w.job(jobId).state, 'awaiting_approval', 'not decided while the lock is held');
    await released;

    const job = await w.finished(jobId);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.equal(w.store.approvals.get(jobId)?.state, 'approved');
    assert.equal(w.store.approvals.get(jobId)?.decidedBy, USER.bob);
    assert.ok(hasPattern(disk, 0xa1), 'the disk holds the snapshot data again');
    assert.equal(job.attempts, 1);
  });

  it('an Approve click while it is held is acknowledged within 3 s (deferred update) and applied after the release', async (t) => {
    const { vm, disk } = newVm('click');
    writePattern(disk, 0xa1);
    await w.bot.core.hypervisor.host('local').createSnapshot({ vm, name: 's1', kind: 'internal' });
    writePattern(disk, 0xb2);
    const a = await run(w, USER.alice, 'snapshot', 'revert', { vm, name: 's1' });
    const jobId = a.jobId!;
    const job0 = w.job(jobId);
    const messageId = w.store.approvals.get(jobId)!.messageId!;

    const lock = await holdWriteLock(dbFile, t);
    const click = w.emulator.clickButton({ user: USER.bob, messageId, customId: `approve:${jobId}:${job0.requestId}` });
    const released = lock.releaseAfter(LONGER_THAN_OLD_BUSY_TIMEOUT_MS);
    const ack = await click.response();
    assert.equal(ack.late, false, `acknowledged after ${ack.receivedAfterMs} ms`);
    assert.equal(ack.type, 6);
    assert.equal(w.job(jobId).state, 'awaiting_approval', 'not decided while the lock is held');
    await released;

    const job = await w.finished(jobId);
    assert.equal(job.state, 'succeeded', JSON.stringify(job.error));
    assert.equal(w.store.approvals.get(jobId)?.decidedBy, USER.bob);
    assert.ok(hasPattern(disk, 0xa1), 'the disk holds the snapshot data again');
  });
});
