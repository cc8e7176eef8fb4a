/**
 * Fail closed (real libvirt): when a disk chain cannot be read, what depends on what is unknown
 * — so template delete refuses, VM delete and revert's clean-up keep files. Never "no dependents".
 *
 * `*.alone.libvirt.test.ts`: its damaged domains are on the whole host while it runs, and kvmops
 * reads every domain before a delete or clean-up, so any other real-libvirt file running beside
 * it would rightly keep files it expects removed. `npm test` runs it by itself.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import type { TemplateInfo } from '../../src/hypervisor/types.js';
import {
  chainOf,
  corruptHeader,
  diskOf,
  domainExists,
  hasCode,
  hasPattern,
  makeTestEnv,
  patternTemplate,
  skipUnlessLibvirt,
  thinVm,
  uuidsByName,
  writePattern,
  type LibvirtTestEnv,
} from '../helpers/libvirt.js';

const skip = skipUnlessLibvirt();

describe('unreadable chains (real libvirt)', skip, () => {
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  let tpl: TemplateInfo;
  let broken: string;

  before(async () => {
    env = makeTestEnv('fclose');
    host = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir });
    tpl = await patternTemplate(env, host, 0x5a);
    broken = await thinVm(host, tpl.name, env.vmName('broken'));
    corruptHeader(diskOf(broken));
  });
  after(() => env?.cleanup());

  it('template delete is refused while a thin VM’s overlay cannot be read; the template stays', async () => {
    const listed = (await host.listTemplates()).find((t) => t.name === tpl.name);
    assert.ok(listed?.unreadable?.includes(broken), 'the listing says whose chain is unknown');
    await assert.rejects(host.deleteTemplate(tpl.name), (e: unknown) => {
      assert.ok(hasCode('chain-unreadable')(e), String(e));
      assert.match((e as Error).message, new RegExp(broken));
      return true;
    });
    assert.ok(existsSync(tpl.disks[0]!.file));
    assert.ok(hasPattern(tpl.disks[0]!.file, 0x5a));
    assert.ok((await host.listTemplates()).some((t) => t.name === tpl.name));
  });

  it('VM delete keeps its files while another domain’s chain is unknown, and says why', async () => {
    const vm = await thinVm(host, tpl.name, env.vmName('other'));
    const disk = diskOf(vm);
    const r = await host.deleteVm(vm);
    assert.deepEqual(r.removed, []);
    assert.ok(r.kept.includes(disk));
    assert.ok(r.unreadable?.some((u) => u.startsWith(`${broken}: `)));
    assert.ok(existsSync(disk));
  });

  it('revert’s clean-up keeps the previous overlay while another domain’s chain is unknown', async () => {
    const vm = await thinVm(host, tpl.name, env.vmName('rev'));
    writePattern(diskOf(vm), 0x11);
    await host.createSnapshot({ vm, name: 'e1', kind: 'external' });
    writePattern(diskOf(vm), 0x22);
    const previous = diskOf(vm);
    await host.revertSnapshot({ vm, name: 'e1' });
    assert.ok(hasPattern(diskOf(vm), 0x11), 'the revert itself is done');
    assert.notEqual(diskOf(vm), previous, 'on a new overlay');
    assert.ok(existsSync(previous) && hasPattern(previous, 0x22), 'the file it left is kept as it was');
  });

  it('once the broken VM is gone, the template can be deleted again when nothing else uses it', async () => {
    const brokenDisk = diskOf(broken);
    await host.deleteVm(broken);
    assert.ok(existsSync(brokenDisk), 'its own unreadable disk is kept');
    for (const vm of [env.vmName('other'), env.vmName('rev')]) {
      if ((await host.listVms()).some((v) => v.name === vm)) await host.deleteVm(vm);
    }
    await host.deleteTemplate(tpl.name);
    assert.equal(existsSync(tpl.disks[0]!.file), false);
  });
});

/**
 * Its own chain: a VM whose own disk (or a backing file of its own overlay) cannot be read is
 * deleted, and every file of its own is kept — README's promise. Its own suite, so that no
 * other broken domain of this file makes the delete keep files for another reason.
 */
describe('a VM’s own unreadable chain (real libvirt)', skip, () => {
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  let tpl: TemplateInfo;

  before(async () => {
    env = makeTestEnv('fcself');
    host = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir });
    tpl = await patternTemplate(env, host, 0x5b);
  });
  after(() => env?.cleanup());

  it('VM delete keeps every file of its own when its own disk cannot be read (damaged qcow2 header)', async () => {
    const vm = await thinVm(host, tpl.name, env.vmName('selfhdr'));
    const disk = diskOf(vm);
    assert.equal(env.storage.ownerOf(disk), uuidsByName().get(vm), 'a file kvmops made for it: removable if readable');
    corruptHeader(disk);
    const r = await host.deleteVm(vm);
    assert.equal(domainExists(vm), false, 'the VM itself is deleted');
    assert.deepEqual(r.removed, []);
    assert.ok(r.kept.includes(disk), `kept: ${r.kept.join(', ')}`);
    assert.ok(r.unreadable?.some((u) => u === `${vm}: ${disk}`), `unreadable: ${r.unreadable?.join(', ')}`);
    assert.ok(existsSync(disk), 'its damaged disk is still there');
  });

  it('VM delete keeps every file of its own when a backing file of its own overlay cannot be read', async () => {
    const vm = await thinVm(host, tpl.name, env.vmName('selfbase'));
    writePattern(diskOf(vm), 0x33);
    await host.createSnapshot({ vm, name: 'e1', kind: 'external' });
    const base = chainOf(diskOf(vm))[1]!.filename;
    const overlay = diskOf(vm);
    const uuid = uuidsByName().get(vm);
    assert.equal(env.storage.ownerOf(base), uuid);
    assert.equal(env.storage.ownerOf(overlay), uuid);
    corruptHeader(base);
    const r = await host.deleteVm(vm);
    assert.equal(domainExists(vm), false);
    assert.deepEqual(r.removed, []);
    assert.ok(r.kept.includes(overlay) && r.kept.includes(base), `kept: ${r.kept.join(', ')}`);
    assert.ok(r.unreadable?.some((u) => u === `${vm}: ${overlay}`), `unreadable: ${r.unreadable?.join(', ')}`);
    assert.ok(existsSync(overlay) && existsSync(base), 'the overlay and its damaged base are still there');
  });
});
