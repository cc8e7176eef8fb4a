import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Job } from '../../src/jobs/types.js';
import { templateDelete } from '../../src/kinds/template-delete.js';
import { StorageLayout } from '../../src/hypervisor/storage.js';
import { createDisk, defineVm, diskOf, domainExists, ownedDiskPath, patternTemplate, skipUnlessLibvirt, uuidsByName, virsh } from '../helpers/libvirt.js';
import { candidateRig, type CandidateRig } from './candidates.js';

/**
 * Destructive jobs verify their own candidates, not the host (real libvirt, real kinds, the
 * worker wired as the app wires it). Hand-made domains are defined behind kvmops' back with NO
 * reconcile between that and the job: the job's own fresh diff (src/inventory/referrers.ts) is
 * what finds them, and the hypervisor re-reads them on disk.
 */
describe('destructive jobs and their candidates (real libvirt)', skipUnlessLibvirt(), () => {
  let rig: CandidateRig;
  const ok = (j: Job) => assert.equal(j.state, 'succeeded', `${j.kind}: ${j.error?.code ?? ''} ${j.error?.message ?? ''}`);
  /** A qcow2 overlay on `base`, made by hand. */
  const overlay = (file: string, base: string) => execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, file]);

  before(() => {
    rig = candidateRig('cands');
  });
  after(async () => {
    await rig?.close();
  });

  it('template.delete is refused while hand-made thin children (and a snapshot that still needs it) hang on the template', async () => {
    const { env, host } = rig;
    const tpl = await patternTemplate(env, host);
    const tplDisk = tpl.disks[0]!.file;
    await rig.reconciler.refresh('local'); // the inventory knows the host, before the hand-made domains
    // 1. a domain whose CURRENT disk no longer hangs on the template, but whose internal snapshot recorded one that does
    const hidden = env.vmName('hidden');
    const old = `${env.outsideDir}/hidden-old.qcow2`;
    overlay(old, tplDisk);
    defineVm(hidden, [old]);
    virsh('snapshot-create-as', hidden, 's1');
    const uuid = uuidsByName().get(hidden)!;
    defineVm(hidden, [createDisk(`${env.outsideDir}/hidden-new.qcow2`, { sizeMiB: 8 })], { uuid });
    let job = await rig.run('template.delete', { name: tpl.name, createdAt: tpl.createdAt });
    assert.equal(job.state, 'failed');
    assert.equal(job.error?.code, 'template-in-use', job.error?.message);
    assert.match(job.error?.message ?? '', new RegExp(hidden));

    // 2. a thin child and a grandchild, made by hand
    const child = env.vmName('child');
    const grand = env.vmName('grand');
    overlay(`${env.outsideDir}/child.qcow2`, tplDisk);
    overlay(`${env.outsideDir}/grand.qcow2`, `${env.outsideDir}/child.qcow2`);
    defineVm(child, [`${env.outsideDir}/child.qcow2`]);
    defineVm(grand, [`${env.outsideDir}/grand.qcow2`]);
    virsh('snapshot-delete', hidden, 's1');
    job = await rig.run('template.delete', { name: tpl.name, createdAt: tpl.createdAt });
    assert.equal(job.error?.code, 'template-in-use', job.error?.message);
    const dependents = /is used by (.*): delete/.exec(job.error?.message ?? '')?.[1]?.split(', ') ?? [];
    assert.deepEqual(dependents, [child, grand].sort(), `the snapshot is gone: only the two children use it now (${job.error?.message})`);
    assert.ok(existsSync(tplDisk), 'the template disk is still there');

    // once they are gone (by hand, again with no reconcile), the delete goes through
    for (const d of [child, grand, hidden]) virsh('undefine', d);
    // a recovered attempt's check reads that one template: present → execute
    const payload = { host: 'local', name: tpl.name, createdAt: tpl.createdAt };
    const ctx = { host, signal: new AbortController().signal, progress: () => {}, recovered: true, job: { id: 0, requestId: 'req-x', attempt: 2 }, reportInventory: () => {} };
    assert.equal(await templateDelete.recover!(payload, ctx), undefined);
    ok(await rig.run('template.delete', { name: tpl.name, createdAt: tpl.createdAt }));
    assert.ok(!existsSync(tplDisk), 'the template disk was removed');
    assert.deepEqual(await templateDelete.recover!(payload, ctx), { deleted: { template: tpl.name }, alreadyGone: true });
  });

  it('vm.delete keeps a disk a hand-made domain’s overlay hangs on, and removes the rest', async () => {
    const { env, host } = rig;
    const tpl = await host.createTemplate({ vm: env.vmName('src'), name: `${env.prefix}t2`, seal: false });
    const web = env.vmName('web');
    ok(await rig.run('deploy', { template: tpl.name, name: web, mode: 'thin', count: 1, start: false, templateCreatedAt: tpl.createdAt }));
    const webUuid = uuidsByName().get(web)!;
    const webDisk = diskOf(web);
    // a second disk of its own, which nothing else uses
    const spare = createDisk(ownedDiskPath(new StorageLayout(env.storageDir), webUuid, 'vdb'), { sizeMiB: 8 });
    virsh('attach-disk', webUuid, spare, 'vdb', '--subdriver', 'qcow2', '--config');
    const leech = env.vmName('leech');
    overlay(`${env.outsideDir}/leech.qcow2`, webDisk);
    defineVm(leech, [`${env.outsideDir}/leech.qcow2`]);

    const job = await rig.run('vm.delete', { vm: web, vmUuid: webUuid });
    ok(job);
    const r = job.result as { removed: string[]; kept: string[] };
    assert.ok(!domainExists(web));
    assert.ok(existsSync(webDisk), 'the disk the other domain’s overlay hangs on stays');
    assert.ok(r.kept.includes(webDisk), JSON.stringify(r));
    assert.ok(r.removed.includes(spare) && !r.removed.includes(webDisk), `its own unused disk went: ${JSON.stringify(r)}`);
    assert.ok(!existsSync(spare));
    virsh('undefine', leech);
  });

  it('vm.delete on a host with 30 unrelated domains reads only its own domain and disks', async () => {
    const { env, host } = rig;
    const tpl = (await host.listTemplates()).find((t) => t.name === `${env.prefix}t2`)!;
    const extras: Array<{ name: string; file: string }> = [];
    for (let i = 0; i < 30; i++) {
      const name = env.vmName(`x${String(i).padStart(2, '0')}`);
      const file = `${env.outsideDir}/x${i}.qcow2`;
      overlay(file, tpl.disks[0]!.file);
      defineVm(name, [file]);
      extras.push({ name, file });
    }
    const vm = env.vmName('solo');
    ok(await rig.run('deploy', { template: tpl.name, name: vm, mode: 'thin', count: 1, start: false, templateCreatedAt: tpl.createdAt }));
    await rig.reconciler.refresh('local'); // the extras are known; the delete's own pass has nothing new to read
    const uuids = uuidsByName();
    const vmUuid = uuids.get(vm)!;
    const vmDisk = diskOf(vm);

    rig.exec.start();
    const job = await rig.run('vm.delete', { vm, vmUuid });
    const lines = rig.exec.stop();
    ok(job);
    const removed = (job.result as { removed: string[] }).removed;
    assert.ok(removed.includes(vmDisk) && removed.every((f) => f.includes(vmUuid)), JSON.stringify(removed));
    assert.ok(!existsSync(vmDisk));
    const touched = extras.filter((x) => lines.some((l) => l.includes(uuids.get(x.name)!) || l.includes(x.file)));
    assert.deepEqual(touched.map((x) => x.name), [], `read unrelated domains:\n${lines.join('\n')}`);
    // what it did read: its own domain (by uuid) and its own disk's chain
    assert.ok(lines.some((l) => l.startsWith('virsh') && l.includes(`'dumpxml' '${vmUuid}'`)), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('qemu-img') && l.includes(vmDisk)), lines.join('\n'));
    for (const x of extras) virsh('undefine', x.name);
  });

  it('snapshot.delete does not merge away or remove an overlay a hand-made domain hangs on; without it, it does', async () => {
    const { env, host } = rig;
    const tpl = (await host.listTemplates()).find((t) => t.name === `${env.prefix}t2`)!;
    const vm = env.vmName('snap');
    ok(await rig.run('deploy', { template: tpl.name, name: vm, mode: 'thin', count: 1, start: false, templateCreatedAt: tpl.createdAt }));
    const vmUuid = uuidsByName().get(vm)!;
    const base = diskOf(vm);
    const snapshotOnce = async (name: string) => {
      ok(await rig.run('snapshot.create', { vm, vmUuid, name, kind: 'external' }));
      const s = (await host.listSnapshots(vm)).find((x) => x.name === name)!;
      return { top: diskOf(vm), pin: { createdAt: s.createdAt, files: s.files } };
    };
    const s1 = await snapshotOnce('s1');
    const hand = env.vmName('onsnap');
    overlay(`${env.outsideDir}/onsnap.qcow2`, s1.top);
    defineVm(hand, [`${env.outsideDir}/onsnap.qcow2`]);
    ok(await rig.run('snapshot.delete', { vm, vmUuid, name: 's1', snapshot: s1.pin }));
    assert.equal(diskOf(vm), s1.top, 'not merged: the VM still writes to the overlay the other domain hangs on');
    assert.ok(existsSync(s1.top) && existsSync(base));

    virsh('undefine', hand);
    const s2 = await snapshotOnce('s2');
    ok(await rig.run('snapshot.delete', { vm, vmUuid, name: 's2', snapshot: s2.pin }));
    assert.equal(diskOf(vm), s1.top, 'merged back into its base');
    assert.ok(!existsSync(s2.top), 'the merged overlay was removed');
  });

  it('template.delete is refused while a running domain’s persistent definition (not its live one) hangs on the template', async () => {
    const { env, host } = rig;
    const tpl = await host.createTemplate({ vm: env.vmName('src'), name: `${env.prefix}t3`, seal: false });
    const runner = env.vmName('runner');
    defineVm(runner, [createDisk(`${env.outsideDir}/runner.qcow2`, { sizeMiB: 8 })]);
    virsh('start', runner);
    try {
      overlay(`${env.outsideDir}/runner-next.qcow2`, tpl.disks[0]!.file);
      defineVm(runner, [`${env.outsideDir}/runner-next.qcow2`], { uuid: uuidsByName().get(runner)! }); // takes effect at its next start
      const job = await rig.run('template.delete', { name: tpl.name, createdAt: tpl.createdAt });
      assert.equal(job.error?.code, 'template-in-use', job.error?.message);
      assert.match(job.error?.message ?? '', new RegExp(runner));
    } finally {
      virsh('destroy', runner);
    }
    virsh('undefine', runner);
    ok(await rig.run('template.delete', { name: tpl.name, createdAt: tpl.createdAt }));
  });
});
