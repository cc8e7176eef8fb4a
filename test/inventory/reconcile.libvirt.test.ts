import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/domain/logger.js';
import { createHypervisor } from '../../src/hypervisor/index.js';
import type { Hypervisor } from '../../src/hypervisor/types.js';
import { Reconciler } from '../../src/inventory/reconcile.js';
import { InventoryStore } from '../../src/inventory/store.js';
import { openJobStore, type SqliteJobStore } from '../../src/jobs/store.js';
import { createDisk, defineVm, makeTestEnv, skipUnlessLibvirt, uuidsByName, virsh, type LibvirtTestEnv } from '../helpers/libvirt.js';

/**
 * The inventory kept true from the real host behind kvmops' back: a VM defined, renamed,
 * started, given a disk and undefined by hand (virsh) is seen within one reconcile. The host is
 * shared with other tests that define domains at the same time: every assertion looks at this
 * file's own uuids only.
 */
describe('reconcile: the real host, changed behind kvmops’ back', skipUnlessLibvirt(), () => {
  let env: LibvirtTestEnv;
  let hypervisor: Hypervisor;
  let dbDir: string;
  let jobs: SqliteJobStore;
  let inv: InventoryStore;
  before(() => {
    env = makeTestEnv('rec');
    hypervisor = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir });
    dbDir = mkdtempSync(path.join(tmpdir(), 'kvmops-inv-'));
    jobs = openJobStore(path.join(dbDir, 'kvmops.db'));
    inv = new InventoryStore(jobs.db);
  });
  after(() => {
    jobs?.close();
    env?.cleanup();
    if (dbDir) rmSync(dbDir, { recursive: true, force: true });
  });

  it('sees a VM defined, renamed, started, stopped and undefined within one pass each', async () => {
    // rotate 0: only the cheap diff finds changes here, no re-read of unchanged rows helps it
    const reconciler = new Reconciler({ hypervisor, store: inv, everyMs: 3_600_000, rotate: 0, logger: silentLogger });
    const [first] = await reconciler.reconcileNow();
    assert.equal(first?.imported, true);
    assert.notEqual(inv.hostStatus('local').importedAt, null);

    const name = env.vmName('a');
    const disk = createDisk(`${env.storageDir}/a.qcow2`, { sizeMiB: 16 });
    defineVm(name, [disk]);
    const uuid = uuidsByName().get(name)!;
    assert.equal(inv.reads.vm('local', uuid), undefined, 'not known before a pass');
    const [defined] = await reconciler.reconcileNow();
    assert.equal(defined?.imported, false, 'later passes are diffs, not imports');
    let row = inv.reads.vm('local', uuid);
    assert.equal(row?.name, name);
    assert.equal(row?.state, 'shut off');
    assert.deepEqual(row?.disks.map((d) => [d.target, d.file, d.chain, d.template]), [['vda', disk, [disk], null]]);

    const renamed = env.vmName('a2');
    virsh('domrename', name, renamed);
    await reconciler.reconcileNow();
    row = inv.reads.vm('local', uuid);
    assert.equal(row?.name, renamed, 'same uuid, new name');
    assert.deepEqual(inv.reads.vmsNamed('local', name), []);

    virsh('start', renamed);
    await reconciler.reconcileNow();
    assert.equal(inv.reads.vm('local', uuid)?.state, 'running');
    virsh('destroy', renamed);
    await reconciler.reconcileNow();
    assert.equal(inv.reads.vm('local', uuid)?.state, 'shut off');

    virsh('undefine', renamed);
    await reconciler.reconcileNow();
    assert.equal(inv.reads.vm('local', uuid), undefined);
    assert.deepEqual(jobs.db.prepare('SELECT count(*) AS n FROM inventory_vm_disks WHERE vm_uuid = ?').get(uuid), { n: 0 }, 'its disks went with it');
  });

  it('a disk added to or removed from a shut-off VM by hand is seen within one pass (its disk sign changed)', async () => {
    const name = env.vmName('b');
    const vda = createDisk(`${env.storageDir}/b.qcow2`, { sizeMiB: 16 });
    defineVm(name, [vda]);
    const uuid = uuidsByName().get(name)!;
    const diffOnly = new Reconciler({ hypervisor, store: inv, everyMs: 3_600_000, rotate: 0, logger: silentLogger });
    await diffOnly.reconcileNow();
    assert.deepEqual(inv.reads.vm('local', uuid)?.disks.map((d) => d.target), ['vda']);

    const vdb = createDisk(`${env.storageDir}/b-vdb.qcow2`, { sizeMiB: 16 });
    virsh('attach-disk', name, vdb, 'vdb', '--config', '--subdriver', 'qcow2');
    await diffOnly.reconcileNow();
    assert.deepEqual(inv.reads.vm('local', uuid)?.disks.map((d) => [d.target, d.file]), [['vda', vda], ['vdb', vdb]]);

    virsh('detach-disk', name, 'vdb', '--config');
    await diffOnly.reconcileNow();
    assert.deepEqual(inv.reads.vm('local', uuid)?.disks.map((d) => d.target), ['vda']);
  });

  it('a snapshot taken by hand (no listing shows it) is seen when a job marks the VM stale, or when the rotation reaches it', async () => {
    const name = env.vmName('c');
    defineVm(name, [createDisk(`${env.storageDir}/c.qcow2`, { sizeMiB: 16 })]);
    const uuid = uuidsByName().get(name)!;
    const diffOnly = new Reconciler({ hypervisor, store: inv, everyMs: 3_600_000, rotate: 0, logger: silentLogger });
    await diffOnly.reconcileNow();
    assert.deepEqual(inv.reads.vm('local', uuid)?.snapshots, []);

    virsh('snapshot-create-as', name, 'by-hand');
    await diffOnly.reconcileNow();
    assert.deepEqual(inv.reads.vm('local', uuid)?.snapshots, [], 'the cheap diff alone cannot see it');

    // a job that changed the VM but could not read it back marks it stale: the next pass reads it
    inv.write([{ type: 'vm-stale', host: 'local', uuid }], Date.now());
    await diffOnly.reconcileNow();
    assert.deepEqual(inv.reads.vm('local', uuid)?.snapshots.map((s) => [s.name, s.kind]), [['by-hand', 'internal']]);
    assert.equal(inv.reads.vm('local', uuid)?.stale, false);

    // behind kvmops' back: the rotation re-reads the rows read longest ago; this one is the
    // newest read, so a rotation as large as the host is what reaches it in one pass
    virsh('snapshot-delete', name, 'by-hand');
    const listed = (await hypervisor.host('local').inventory.listDomainStates()).length;
    const rotating = new Reconciler({ hypervisor, store: inv, everyMs: 3_600_000, rotate: listed + 50, logger: silentLogger });
    await rotating.reconcileNow();
    assert.deepEqual(inv.reads.vm('local', uuid)?.snapshots, []);
  });
});
