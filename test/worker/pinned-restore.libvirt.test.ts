/**
 * A job acts on exactly what was requested (real libvirt, the real store, worker and backup).
 *
 * The restore reproduction: a destructive job, approved and queued, is in a backup
 * (`npm run backup`); the job runs; a new object is made under the same name; the backup is
 * restored as deploy/README.md says and the bot starts again, so the job runs a second time.
 * It must act on the object it pinned at request time — now gone — and never on the newcomer.
 * Before pins, the re-run deleted the new VM and its disk, deleted the new snapshot, and
 * destroyed the new VM.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { silentLogger } from '../../src/domain/logger.js';
import { createHypervisor } from '../../src/hypervisor/index.js';
import type { HostDriver } from '../../src/hypervisor/types.js';
import { backupDatabase } from '../../src/jobs/backup.js';
import { openJobStore, type SqliteJobStore } from '../../src/jobs/store.js';
import type { EnqueueRequest, Job } from '../../src/jobs/types.js';
import { Worker } from '../../src/worker/worker.js';
import {
  createDisk,
  defineVm,
  diskOf,
  domainExists,
  hasPattern,
  makeTestEnv,
  ownedDiskPath,
  skipUnlessLibvirt,
  uuidsByName,
  virsh,
  writePattern,
  type LibvirtTestEnv,
} from '../helpers/libvirt.js';
import { alice, bob, notify } from '../jobs/helpers.js';
import { waitFor } from './helpers.js';

const skip = skipUnlessLibvirt();

describe('a restored backup runs a job again: it acts only on what it pinned', { ...skip, timeout: 180_000 }, () => {
  let env: LibvirtTestEnv;
  let host: HostDriver;
  let dir: string;
  let n = 0;

  before(() => {
    if (skip.skip) return;
    env = makeTestEnv('pin');
    dir = mkdtempSync(path.join(tmpdir(), 'kvmops-pin-'));
    host = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir }).host('local');
  });
  after(() => {
    env?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function vm(name: string): { name: string; uuid: string; disk: string } {
    const uuid = randomUUID();
    const disk = createDisk(ownedDiskPath(env.storage, uuid));
    defineVm(name, [disk], { uuid });
    return { name, uuid, disk };
  }

  /** Runs the queue with a worker until `jobId` has ended; returns it. */
  async function runUntilEnded(store: SqliteJobStore, jobId: number): Promise<Job> {
    const worker = new Worker({ store, hypervisor: { hostNames: () => ['local'], host: () => host }, logger: silentLogger });
    worker.start();
    try {
      await waitFor('the job to end', () => ['succeeded', 'failed', 'cancelled'].includes(store.get(jobId)!.state), 60_000);
    } finally {
      await worker.stop({ graceMs: 0 });
    }
    return store.get(jobId)!;
  }

  /**
   * The whole story: enqueue (and approve), back up, run, `between()` makes the new object,
   * restore the backup over the database (its -wal/-shm moved away, as deploy/README.md says),
   * start again: the job runs a second time. Returns both outcomes.
   */
  async function restoreStory(t: TestContext, req: EnqueueRequest, between: () => void | Promise<void>): Promise<{ first: Job; second: Job }> {
    const file = path.join(dir, `kvmops-${++n}.db`);
    const backup = path.join(dir, `backup-${n}.db`);
    let store = openJobStore(file);
    t.after(() => store.db.open && store.close());
    const job = store.enqueue(req);
    if (job.state === 'awaiting_approval') store.approvals.decide(job.id, 'approve', bob);
    assert.equal(store.get(job.id)!.state, 'queued');
    await backupDatabase(store.db, backup);

    const first = await runUntilEnded(store, job.id);
    await between();

    store.close();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
    copyFileSync(backup, file);
    store = openJobStore(file);
    assert.equal(store.get(job.id)!.state, 'queued', 'the restored database has the job queued again');
    const second = await runUntilEnded(store, job.id);
    return { first, second };
  }

  test('vm.delete: the re-run finds its VM gone and leaves the new VM of that name and its disk alone', async (t) => {
    const web = vm(env.vmName('web'));
    const req: EnqueueRequest = { kind: 'vm.delete', payload: { host: 'local', vm: web.name, vmUuid: web.uuid }, requester: alice, notify };
    let newcomer!: { name: string; uuid: string; disk: string };
    const { first, second } = await restoreStory(t, req, () => {
      assert.equal(domainExists(web.name), false);
      newcomer = vm(web.name);
      writePattern(newcomer.disk, 0x42);
    });
    assert.equal(first.state, 'succeeded', JSON.stringify(first.error));
    assert.equal(second.state, 'succeeded', JSON.stringify(second.error));
    assert.deepEqual(second.result, { deleted: { vm: web.name }, alreadyGone: true, notTouched: `another VM (uuid ${newcomer.uuid})` });
    assert.equal(uuidsByName().get(web.name), newcomer.uuid, 'the new VM is still defined');
    assert.ok(hasPattern(newcomer.disk, 0x42), 'and its disk is whole');
  });

  test('snapshot.delete: the re-run leaves the new snapshot of that name alone', async (t) => {
    const db = vm(env.vmName('db'));
    writePattern(db.disk, 0x11);
    const s = await host.createSnapshot({ vm: db.name, name: 'nightly', kind: 'internal' });
    const req: EnqueueRequest = {
      kind: 'snapshot.delete',
      payload: { host: 'local', vm: db.name, name: 'nightly', vmUuid: db.uuid, snapshot: { createdAt: s.createdAt, files: [] } },
      requester: alice,
      notify,
    };
    const { first, second } = await restoreStory(t, req, async () => {
      // a later second, so the new snapshot's creation time differs from the pinned one
      await new Promise((r) => setTimeout(r, 1_100));
      writePattern(db.disk, 0x22);
      await host.createSnapshot({ vm: db.name, name: 'nightly', kind: 'internal' });
      writePattern(db.disk, 0x33);
    });
    assert.equal(first.state, 'succeeded', JSON.stringify(first.error));
    assert.equal(second.state, 'succeeded', JSON.stringify(second.error));
    assert.deepEqual(second.result, { deleted: { vm: db.name, snapshot: 'nightly' }, alreadyGone: true, notTouched: 'another snapshot' });
    assert.match(virsh('snapshot-list', '--name', db.name), /^nightly$/m, 'the new snapshot is still there');
    await host.revertSnapshot({ vm: db.name, name: 'nightly' });
    assert.ok(hasPattern(diskOf(db.name), 0x22), 'and it still holds its own data');
  });

  test('vm.stop force: the re-run does not destroy the new running VM of that name', async (t) => {
    const app = vm(env.vmName('app'));
    virsh('start', app.name);
    const req: EnqueueRequest = { kind: 'vm.stop', payload: { host: 'local', vm: app.name, force: true, vmUuid: app.uuid }, requester: alice, notify };
    const { first, second } = await restoreStory(t, req, () => {
      assert.equal(virsh('domstate', app.name).trim(), 'shut off');
      virsh('undefine', app.name);
      const newcomer = vm(app.name);
      virsh('start', newcomer.name);
    });
    assert.equal(first.state, 'succeeded', JSON.stringify(first.error));
    assert.equal(second.state, 'failed');
    assert.equal(second.error?.code, 'target-changed');
    assert.equal(virsh('domstate', app.name).trim(), 'running', 'the new VM still runs');
  });
});
