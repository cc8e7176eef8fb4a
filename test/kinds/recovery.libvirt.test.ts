import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { createHypervisor } from '../../src/hypervisor/index.js';
import type { HostDriver } from '../../src/hypervisor/types.js';
import { EXECUTORS } from '../../src/kinds/index.js';
import type { ExecutorContext } from '../../src/kinds/index.js';
import { createDisk, defineVm, domainExists, makeTestEnv, skipUnlessLibvirt, type LibvirtTestEnv } from '../helpers/libvirt.js';

/**
 * The executors' recovery checks against real libvirt: run once, then run again as a recovered
 * job — it must succeed from the real state instead of acting twice (or failing `name-taken`).
 */
describe('executors on real libvirt: recovered runs finish cleanly', { ...skipUnlessLibvirt(), timeout: 120_000 }, () => {
  let env: LibvirtTestEnv;
  let host: HostDriver;
  before(() => {
    env = makeTestEnv('wexec');
    host = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir }).host('local');
  });
  after(() => env?.cleanup());

  const ctx = (recovered: boolean): ExecutorContext => ({
    host,
    signal: new AbortController().signal,
    progress: () => {},
    recovered,
    reportInventory: () => {},
    job: { id: 1, requestId: 'req-recovery-test', attempt: recovered ? 2 : 1 },
  });

  const uuids = new Map<string, string>();
  function newVm(suffix: string, file = `${suffix}--vda.qcow2`): string {
    const vm = env.vmName(suffix);
    const uuid = randomUUID();
    uuids.set(vm, uuid);
    defineVm(vm, [createDisk(join(env.storage.vmsDir, file))], { uuid });
    return vm;
  }

  test('snapshot.create: a recovered run finds the snapshot and succeeds with it', async () => {
    const vm = newVm('snap');
    const p = { host: 'local', vm, name: 's1', kind: 'internal' as const };
    const first = (await EXECUTORS['snapshot.create'](p, ctx(false))) as { snapshot: { name: string; createdAt: number } };
    assert.equal(first.snapshot.name, 's1');
    const again = (await EXECUTORS['snapshot.create'](p, ctx(true))) as { snapshot: { name: string } };
    assert.deepEqual(again, first);
    await assert.rejects(EXECUTORS['snapshot.create'](p, ctx(false)), (e) => isKvmopsError(e, 'name-taken'));
    // snapshot.delete twice: the recovered one finds it gone.
    const pinned = { host: 'local', vm, name: 's1', vmUuid: uuids.get(vm)!, snapshot: { createdAt: first.snapshot.createdAt, files: [] } };
    await EXECUTORS['snapshot.delete'](pinned, ctx(false));
    assert.deepEqual(await EXECUTORS['snapshot.delete'](pinned, ctx(true)), {
      deleted: { vm, snapshot: 's1' },
      alreadyGone: true,
    });
  });

  test('vm.start / vm.stop / vm.delete: recovered runs see the state already reached', async () => {
    const vm = newVm('life');
    const vmUuid = uuids.get(vm)!;
    // its only NIC is QEMU's user-mode network: no address is waited for, and the result says why
    const addresses = [{ vm, missing: 'no-network' }];
    assert.deepEqual(await EXECUTORS['vm.start']({ host: 'local', vm, vmUuid }, ctx(false)), { vm, state: 'running', addresses });
    assert.deepEqual(await EXECUTORS['vm.start']({ host: 'local', vm, vmUuid }, ctx(true)), { vm, state: 'running', alreadyRunning: true, addresses });
    await EXECUTORS['vm.stop']({ host: 'local', vm, force: true, vmUuid }, ctx(false));
    assert.deepEqual(await EXECUTORS['vm.stop']({ host: 'local', vm, force: true, vmUuid }, ctx(true)), {
      vm,
      state: 'shut off',
      alreadyStopped: true,
    });
    await EXECUTORS['vm.delete']({ host: 'local', vm, vmUuid }, ctx(false));
    assert.equal(domainExists(vm), false);
    assert.deepEqual(await EXECUTORS['vm.delete']({ host: 'local', vm, vmUuid }, ctx(true)), { deleted: { vm }, alreadyGone: true });
    // A VM made anew under the name is another VM: the pinned delete is done, the newcomer untouched.
    newVm('life', 'life-again--vda.qcow2');
    assert.notEqual(uuids.get(vm), vmUuid);
    const r = (await EXECUTORS['vm.delete']({ host: 'local', vm, vmUuid }, ctx(false))) as Record<string, unknown>;
    assert.equal(r.alreadyGone, true);
    assert.match(String(r.notTouched), new RegExp(uuids.get(vm)!));
    assert.equal(domainExists(vm), true, 'the new VM under the name was not deleted');
    await assert.rejects(EXECUTORS['vm.stop']({ host: 'local', vm, force: true, vmUuid }, ctx(false)), (e) => isKvmopsError(e, 'target-changed'));
  });
});
