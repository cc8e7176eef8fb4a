/** Template creation rules on the real libvirtd. */
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import {
  chainOf,
  createDisk,
  defineVm,
  hasPattern,
  makeTestEnv,
  skipUnlessLibvirt,
  virsh,
  writePattern,
  type LibvirtTestEnv,
  hasCode,
} from '../helpers/libvirt.js';

const skip = skipUnlessLibvirt();
const code = hasCode;

describe('template create (real libvirt)', skip, () => {
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  before(() => {
    env = makeTestEnv('tpl');
    host = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir });
  });
  after(() => env?.cleanup());
  const tplFiles = () => readdirSync(env.storage.templatesDir).sort();

  it('flattens a disk with a backing chain: one chain-free file holding both layers', async () => {
    const vm = env.vmName('chain');
    const base = createDisk(`${env.outsideDir}/base.qcow2`);
    writePattern(base, 0x11, '0', '1M');
    writePattern(base, 0x12, '4M', '1M');
    const top = createDisk(`${env.outsideDir}/top.qcow2`, { backing: base });
    writePattern(top, 0x22, '4M', '1M'); // overrides the base there
    const second = createDisk(`${env.outsideDir}/second.qcow2`, { sizeMiB: 32 });
    writePattern(second, 0x33, '0', '64k');
    defineVm(vm, [top, second]);
    const t = await host.createTemplate({ vm, name: `${env.prefix}flat`, seal: false });
    assert.deepEqual(t.disks.map((d) => d.target), ['vda', 'vdb']);
    const [a, b] = t.disks.map((d) => d.file) as [string, string];
    assert.equal(chainOf(a).length, 1);
    assert.ok(hasPattern(a, 0x11, '0', '1M'));
    assert.ok(hasPattern(a, 0x22, '4M', '1M'));
    assert.ok(hasPattern(b, 0x33, '0', '64k'));
    assert.equal(t.disks[1]!.virtualSize, 32 * 1024 * 1024);
    // the source VM is untouched
    assert.equal(chainOf(top).length, 2);
  });

  it('refuses a taken name', async () => {
    const before = tplFiles();
    await assert.rejects(host.createTemplate({ vm: env.vmName('chain'), name: `${env.prefix}flat`, seal: false }), code('name-taken'));
    assert.deepEqual(tplFiles(), before);
  });

  it('refuses a running VM (vm-running) and an unknown one (vm-not-found)', async () => {
    const vm = env.vmName('run');
    defineVm(vm, [createDisk(`${env.outsideDir}/run.qcow2`)]);
    virsh('start', vm);
    try {
      await assert.rejects(host.createTemplate({ vm, name: `${env.prefix}run`, seal: false }), code('vm-running'));
    } finally {
      virsh('destroy', vm);
    }
    await assert.rejects(host.createTemplate({ vm: env.vmName('nope'), name: `${env.prefix}x`, seal: false }), code('vm-not-found'));
    assert.ok(!tplFiles().some((f) => f.startsWith(`${env.prefix}run`)));
  });

  it('abort: the half-made template is removed', async () => {
    const vm = env.vmName('big');
    defineVm(vm, [createDisk(`${env.outsideDir}/big1.qcow2`), createDisk(`${env.outsideDir}/big2.qcow2`)]);
    const before = tplFiles();
    const ac = new AbortController();
    await assert.rejects(
      host.createTemplate(
        { vm, name: `${env.prefix}big`, seal: false },
        { signal: ac.signal, onProgress: (p) => p.step.startsWith('copying vdb') && ac.abort() },
      ),
      code('aborted'),
    );
    assert.deepEqual(tplFiles(), before);
  });

  it('leftovers of a crashed attempt (disk files without XML) are replaced', async () => {
    const vm = env.vmName('big');
    // a stale copy with the name the template's disk will get, as a crash would leave it
    copyFileSync(`${env.outsideDir}/run.qcow2`, `${env.storage.templatesDir}/${env.prefix}again--vda.qcow2`);
    writePattern(`${env.outsideDir}/big1.qcow2`, 0x44, '0', '1M');
    const t = await host.createTemplate({ vm, name: `${env.prefix}again`, seal: false });
    assert.ok(hasPattern(t.disks[0]!.file, 0x44, '0', '1M'));
    const listed = (await host.listTemplates()).map((x) => x.name);
    assert.deepEqual(listed, [`${env.prefix}again`, `${env.prefix}flat`]);
  });

  it('delete: template-not-found for an unknown template', async () => {
    await assert.rejects(host.deleteTemplate(`${env.prefix}none`), code('template-not-found'));
  });
});
