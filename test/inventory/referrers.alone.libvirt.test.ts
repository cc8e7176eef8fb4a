/**
 * A domain whose disk chain cannot be read stays a candidate of every destructive step: what it
 * hangs on is unknown, so it might use the files about to go. The inventory lists it, the step
 * re-reads it, and — still unreadable — keeps files / refuses (fail closed), while the healthy
 * unrelated domains are not read at all. Once it is gone (undefined by hand, no reconcile), the
 * next delete removes files again.
 *
 * `*.alone.libvirt.test.ts`: its damaged domain is on the whole host while it runs, and any
 * other real-libvirt file running beside it would rightly keep files it expects removed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Job } from '../../src/jobs/types.js';
import { corruptHeader, defineVm, diskOf, patternTemplate, skipUnlessLibvirt, uuidsByName, virsh } from '../helpers/libvirt.js';
import { candidateRig, type CandidateRig } from './candidates.js';

describe('an unreadable domain among the candidates (real libvirt)', skipUnlessLibvirt(), () => {
  let rig: CandidateRig;
  const ok = (j: Job) => assert.equal(j.state, 'succeeded', `${j.kind}: ${j.error?.code ?? ''} ${j.error?.message ?? ''}`);
  before(() => {
    rig = candidateRig('candbad');
  });
  after(async () => {
    await rig?.close();
  });

  it('keeps the VM’s files and refuses the template delete while it is there; reads no healthy bystander', async () => {
    const { env, host } = rig;
    const tpl = await patternTemplate(env, host);
    const extras: string[] = [];
    for (let i = 0; i < 5; i++) {
      const file = `${env.outsideDir}/ok${i}.qcow2`;
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', tpl.disks[0]!.file, file]);
      defineVm(env.vmName(`ok${i}`), [file]);
      extras.push(env.vmName(`ok${i}`));
    }
    const bad = env.vmName('bad');
    const badFile = `${env.outsideDir}/bad.qcow2`;
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', badFile, '16M']);
    corruptHeader(badFile);
    defineVm(bad, [badFile]);
    const vm = env.vmName('solo');
    ok(await rig.run('deploy', { template: tpl.name, name: vm, mode: 'thin', count: 1, start: false, templateCreatedAt: tpl.createdAt }));
    await rig.reconciler.refresh('local');
    assert.ok(rig.inv.reads.referrers('local', []).some((d) => d.name === bad), 'the inventory knows it as unreadable');
    const uuids = uuidsByName();
    const vmDisk = diskOf(vm);

    rig.exec.start();
    const job = await rig.run('vm.delete', { vm, vmUuid: uuids.get(vm)! });
    const lines = rig.exec.stop();
    ok(job);
    const r = job.result as { removed: string[]; kept: string[]; unreadable?: string[] };
    assert.deepEqual(r.removed, [], JSON.stringify(r));
    assert.ok(r.kept.includes(vmDisk) && existsSync(vmDisk), 'its disk is kept: the unreadable domain might hang on it');
    assert.ok(r.unreadable?.some((u) => u.startsWith(`${bad}:`)), JSON.stringify(r));
    assert.ok(lines.some((l) => l.includes(badFile)), 'the unreadable domain was re-read');
    const read = extras.filter((x) => lines.some((l) => l.includes(uuids.get(x)!)));
    assert.deepEqual(read, [], 'healthy bystanders are not read');

    const refused = await rig.run('template.delete', { name: tpl.name, createdAt: tpl.createdAt });
    assert.equal(refused.error?.code, 'template-in-use', 'the healthy thin children come first'); // they do hang on it
    for (const x of extras) virsh('undefine', x);
    const unknown = await rig.run('template.delete', { name: tpl.name, createdAt: tpl.createdAt });
    assert.equal(unknown.error?.code, 'chain-unreadable', unknown.error?.message);
    assert.match(unknown.error?.message ?? '', new RegExp(bad));

    // gone by hand, no reconcile: the next VM delete removes its files again
    virsh('undefine', bad);
    const vm2 = env.vmName('solo2');
    ok(await rig.run('deploy', { template: tpl.name, name: vm2, mode: 'thin', count: 1, start: false, templateCreatedAt: tpl.createdAt }));
    const disk2 = diskOf(vm2);
    const job2 = await rig.run('vm.delete', { vm: vm2, vmUuid: uuidsByName().get(vm2)! });
    ok(job2);
    assert.ok((job2.result as { removed: string[] }).removed.includes(disk2));
    assert.ok(!existsSync(disk2));
  });
});
