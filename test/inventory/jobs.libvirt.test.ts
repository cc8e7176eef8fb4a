import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FINAL_STATES } from '../../src/domain/job-states.js';
import { silentLogger } from '../../src/domain/logger.js';
import { createHypervisor } from '../../src/hypervisor/index.js';
import { InventoryStore } from '../../src/inventory/store.js';
import { openJobStore, type SqliteJobStore } from '../../src/jobs/store.js';
import type { Job } from '../../src/jobs/types.js';
import type { JobKind } from '../../src/kinds/index.js';
import { Worker } from '../../src/worker/worker.js';
import { alice, bob, notify } from '../jobs/helpers.js';
import { waitFor } from '../worker/helpers.js';
import { createDisk, defineVm, makeTestEnv, skipUnlessLibvirt, uuidsByName, type LibvirtTestEnv } from '../helpers/libvirt.js';

/**
 * Every job kind reports what it changed, and the worker writes those rows with its result:
 * right after each job, with no reconcile running, the inventory already shows its work — the
 * template made, the VMs deployed (hanging on it), a start, a stop, snapshots taken and deleted,
 * VMs and the template deleted. The pins of the later jobs are taken from the inventory itself.
 */
describe('jobs write their inventory rows (real libvirt, real kinds, no reconcile)', skipUnlessLibvirt(), () => {
  let env: LibvirtTestEnv;
  let dbDir: string;
  let store: SqliteJobStore;
  let inv: InventoryStore;
  let worker: Worker;
  let hypervisor: ReturnType<typeof createHypervisor>;

  before(() => {
    env = makeTestEnv('invjob');
    dbDir = mkdtempSync(path.join(tmpdir(), 'kvmops-invjob-'));
    store = openJobStore(path.join(dbDir, 'kvmops.db'));
    inv = new InventoryStore(store.db);
    hypervisor = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir });
    worker = new Worker({ store, hypervisor, inventory: inv.write, logger: silentLogger });
    worker.start();
  });
  after(async () => {
    await worker?.stop({ graceMs: 5_000 });
    store?.close();
    env?.cleanup();
    if (dbDir) rmSync(dbDir, { recursive: true, force: true });
  });

  async function run(kind: JobKind, payload: Record<string, unknown>): Promise<Job> {
    const job = store.enqueue({ kind, payload: { host: 'local', ...payload }, requester: alice, notify });
    if (job.state === 'awaiting_approval') store.approvals.decide(job.id, 'approve', bob);
    return waitFor(`${kind} to finish`, () => {
      const j = store.get(job.id)!;
      return FINAL_STATES.has(j.state) && j;
    }, 120_000);
  }
  const ok = (j: Job) => assert.equal(j.state, 'succeeded', `${j.kind}: ${j.error?.message ?? ''}`);
  const byName = (name: string) => inv.reads.vmsNamed('local', name)[0];

  it('each kind, in turn', async () => {
    const src = env.vmName('src');
    defineVm(src, [createDisk(`${env.outsideDir}/src.qcow2`, { sizeMiB: 16 })]);
    const tpl = `${env.prefix}tpl`;

    ok(await run('template.create', { vm: src, name: tpl, seal: false }));
    let t = inv.reads.templates('local').find((x) => x.name === tpl);
    assert.equal(t?.sourceVm, src);
    assert.equal(t?.disks.length, 1);
    assert.equal(t?.dependents, 0);

    const web = env.vmName('web');
    ok(await run('deploy', { template: tpl, name: web, mode: 'thin', count: 2, start: false, templateCreatedAt: t!.createdAt }));
    const [w1, w2] = [byName(`${web}-01`), byName(`${web}-02`)];
    assert.ok(w1 && w2, 'both deployed VMs are known');
    assert.equal(w1.uuid, uuidsByName().get(`${web}-01`));
    assert.equal(inv.reads.vm('local', w1.uuid)?.disks[0]?.template, tpl);
    assert.equal(inv.reads.templates('local').find((x) => x.name === tpl)?.dependents, 2);
    // the deploy reports what it made without reading it back: the same as a read of the host
    const [read] = await hypervisor.host('local').inventory.readVms([w1]);
    assert.deepEqual(inv.reads.vm('local', w1.uuid)?.disks, read?.disks);
    assert.equal(read?.state, inv.reads.vm('local', w1.uuid)?.state);

    ok(await run('vm.start', { vm: w1.name, vmUuid: w1.uuid }));
    assert.equal(inv.reads.vm('local', w1.uuid)?.state, 'running');
    ok(await run('vm.stop', { vm: w1.name, vmUuid: w1.uuid, force: true }));
    assert.equal(inv.reads.vm('local', w1.uuid)?.state, 'shut off');

    ok(await run('snapshot.create', { vm: w2.name, vmUuid: w2.uuid, name: 'internal1', kind: 'internal' }));
    ok(await run('snapshot.create', { vm: w2.name, vmUuid: w2.uuid, name: 'external1', kind: 'external' }));
    let w2row = inv.reads.vm('local', w2.uuid)!;
    assert.deepEqual(w2row.snapshots.map((s) => [s.name, s.kind]).sort(), [['external1', 'external'], ['internal1', 'internal']]);
    const ext = w2row.snapshots.find((s) => s.name === 'external1')!;
    assert.equal(ext.files.length, 1, 'the external snapshot owns its base file');
    assert.equal(w2row.disks[0]?.chain.length, 3, 'overlay → the old disk → the template disk');
    assert.equal(w2row.disks[0]?.template, tpl, 'still hangs on the template');

    ok(await run('snapshot.delete', { vm: w2.name, vmUuid: w2.uuid, name: 'external1', snapshot: { createdAt: ext.createdAt, files: ext.files } }));
    w2row = inv.reads.vm('local', w2.uuid)!;
    assert.deepEqual(w2row.snapshots.map((s) => s.name), ['internal1']);

    const int = w2row.snapshots[0]!;
    ok(await run('snapshot.revert', { vm: w2.name, vmUuid: w2.uuid, name: 'internal1', snapshot: { createdAt: int.createdAt, files: int.files } }));
    assert.deepEqual(inv.reads.vm('local', w2.uuid)?.snapshots.map((s) => s.name), ['internal1']);

    ok(await run('vm.delete', { vm: w1.name, vmUuid: w1.uuid }));
    assert.equal(inv.reads.vm('local', w1.uuid), undefined);
    assert.equal(inv.reads.templates('local').find((x) => x.name === tpl)?.dependents, 1);

    const refused = await run('template.delete', { name: tpl, createdAt: t!.createdAt });
    assert.equal(refused.state, 'failed');
    assert.equal(refused.error?.code, 'template-in-use');
    assert.ok(inv.reads.templates('local').some((x) => x.name === tpl), 'a failed job changes no row');

    ok(await run('vm.delete', { vm: w2.name, vmUuid: w2.uuid }));
    t = inv.reads.templates('local').find((x) => x.name === tpl);
    assert.equal(t?.dependents, 0);
    ok(await run('template.delete', { name: tpl, createdAt: t!.createdAt }));
    assert.equal(inv.reads.templates('local').find((x) => x.name === tpl), undefined);
  });
});
