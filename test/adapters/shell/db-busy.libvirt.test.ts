/**
 * The terminal chat while ANOTHER PROCESS holds the database's write lock: attaching an
 * approval request to its message is a write like any other chat write and waits the lock out
 * (through the chat core's Services port) instead of failing with `db-busy`.
 *
 * In process (ShellSession over the real core, SQLite store and libvirt; no worker runs, so the
 * VM named in the request is never deleted). Run: node --import tsx --test test/shell/db-busy.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ShellSession } from '../../../src/adapters/shell/session.js';
import { Transcript } from '../../../src/adapters/shell/transcript.js';
import { createCore, type AppCore } from '../../../src/app.js';
import { loadEnv } from '../../../src/config/env.js';
import { holdWriteLock } from '../../jobs/db-lock.js';
import { createDisk, defineVm, makeTestEnv, skipUnlessLibvirt, type LibvirtTestEnv } from '../../helpers/libvirt.js';

describe('shell: a database locked by another process', { ...skipUnlessLibvirt(), timeout: 120_000 }, () => {
  let lab: LibvirtTestEnv;
  let dir: string;
  let core: AppCore;
  const dbFile = () => path.join(dir, 'kvmops.db');

  /** A session printing into `out`; ids continue across sessions (the seq file), as in `npm run shell`. */
  const session = async (out: string[], user = 'alice') =>
    new ShellSession(core, await Transcript.open({ write: (s) => out.push(s), inPlace: false, seqFile: `${dbFile()}.shell-seq` }), {
      user,
      roles: ['admin', 'approver'],
    });
  const requestIdIn = (out: string[]): string => {
    const id = /approvers: react (\S+) ✅/.exec(out.join(''))?.[1];
    assert.ok(id, `an approval request was posted:\n${out.join('')}`);
    return id;
  };

  before(() => {
    lab = makeTestEnv('shbusy');
    dir = mkdtempSync(path.join(tmpdir(), 'kvmops-shell-busy-'));
    const env = loadEnv({
      KVMOPS_DB: dbFile(),
      KVMOPS_HOSTS: 'local=qemu:///system',
      KVMOPS_STORAGE_DIR: lab.storageDir,
      KVMOPS_LOG_LEVEL: process.env.KVMOPS_TEST_LOG ?? 'silent',
      KVMOPS_TWO_PERSON: 'true',
    });
    core = createCore(env, { guildId: null });
  });
  after(() => {
    core?.store.close();
    lab?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a pending request re-posted by a new session is attached once the lock is released, and a ✅ on it counts', async (t) => {
    const vm = lab.vmName('del');
    defineVm(vm, [createDisk(path.join(lab.storage.vmsDir, `${vm}--vda.qcow2`))]);
    const first: string[] = [];
    const alice = await session(first);
    await alice.run(`/vm delete vm:${vm}`);
    const jobId = alice.lastReply?.approvalJobId;
    assert.ok(jobId, `the delete waits for an approval: ${JSON.stringify(alice.lastReply)}`);
    const oldId = requestIdIn(first);
    assert.equal(core.store.approvals.get(jobId)?.messageId, oldId);

    // A new terminal re-posts the pending request; its attach meets the lock.
    const lock = await holdWriteLock(dbFile(), t);
    const second: string[] = [];
    const bob = await session(second, 'bob');
    const resumed = bob.resumePendingApprovals();
    const released = lock.releaseAfter(1_000);
    await assert.doesNotReject(resumed, 'the attach waits for the lock instead of failing with db-busy');
    await released;

    const newId = requestIdIn(second);
    assert.notEqual(newId, oldId);
    assert.equal(core.store.approvals.get(jobId)?.messageId, newId, 'the approval now points at the new message');
    assert.equal(core.store.approvals.byMessage(newId)?.jobId, jobId);
    await bob.run(`react ${newId} ✅`);
    assert.deepEqual(bob.lastReaction, { kind: 'approved', jobId });
    assert.equal(core.store.approvals.get(jobId)?.state, 'approved');
  });
});
