/**
 * A new revert is never skipped as "already applied" because another job once had its number
 * (real libvirt, two real stores and workers). Job numbers repeat: a restored backup or a second
 * database on the same host (`npm run shell` beside the bot) hands out #1 again. The record a
 * revert leaves on the VM is keyed by the job's request id, made at random at enqueue — so the
 * second database's job #1 reverts for real. Before request ids, it found `job-1` in the VM's
 * record, reported success and changed nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../src/domain/logger.js';
import { createHypervisor } from '../../src/hypervisor/index.js';
import type { HostDriver } from '../../src/hypervisor/types.js';
import { openJobStore } from '../../src/jobs/store.js';
import type { Job } from '../../src/jobs/types.js';
import { Worker } from '../../src/worker/worker.js';
import { createDisk, defineVm, diskOf, hasPattern, makeTestEnv, ownedDiskPath, skipUnlessLibvirt, writePattern, type LibvirtTestEnv } from '../helpers/libvirt.js';
import { alice, notify } from '../jobs/helpers.js';
import { waitFor } from './helpers.js';

const skip = skipUnlessLibvirt();

describe('two databases on one host: job #1 of each reverts', { ...skip, timeout: 120_000 }, () => {
  let env: LibvirtTestEnv;
  let host: HostDriver;
  let dir: string;
  before(() => {
    if (skip.skip) return;
    env = makeTestEnv('rid');
    dir = mkdtempSync(path.join(tmpdir(), 'kvmops-rid-'));
    host = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir }).host('local');
  });
  after(() => {
    env?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function revertIn(dbFile: string, vm: string, vmUuid: string, createdAt: number): Promise<Job> {
    const store = openJobStore(dbFile);
    const worker = new Worker({ store, hypervisor: { hostNames: () => ['local'], host: () => host }, logger: silentLogger });
    try {
      const job = store.enqueue({
        kind: 'snapshot.revert',
        payload: { host: 'local', vm, name: 's1', vmUuid, snapshot: { createdAt, files: [] } },
        requester: alice,
        notify,
        needsApproval: false,
      });
      worker.start();
      await waitFor('the revert to end', () => ['succeeded', 'failed'].includes(store.get(job.id)!.state), 60_000);
      return store.get(job.id)!;
    } finally {
      await worker.stop({ graceMs: 0 });
      store.close();
    }
  }

  test('the second database\'s job #1 is not mistaken for the first\'s', async () => {
    const vm = env.vmName('web');
    const uuid = randomUUID();
    defineVm(vm, [createDisk(ownedDiskPath(env.storage, uuid))], { uuid });
    writePattern(diskOf(vm), 0x11);
    const s1 = await host.createSnapshot({ vm, name: 's1', kind: 'internal' });
    writePattern(diskOf(vm), 0x22);

    const first = await revertIn(path.join(dir, 'bot.db'), vm, uuid, s1.createdAt);
    assert.equal(first.state, 'succeeded', JSON.stringify(first.error));
    assert.ok(hasPattern(diskOf(vm), 0x11));

    writePattern(diskOf(vm), 0x33); // work after the first revert, which the second must undo
    const second = await revertIn(path.join(dir, 'shell.db'), vm, uuid, s1.createdAt);
    assert.equal(second.id, first.id, 'the same job number in the other database');
    assert.equal(second.state, 'succeeded', JSON.stringify(second.error));
    assert.deepEqual(second.result, { reverted: { vm, snapshot: 's1' } }, 'reverted, not "already applied"');
    assert.ok(hasPattern(diskOf(vm), 0x11), 'the second revert really happened');
    assert.notEqual(second.requestId, first.requestId);
  });
});
