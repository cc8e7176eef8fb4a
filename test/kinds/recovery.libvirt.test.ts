import assert from 'node:assert/strict';
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
    job: { id: 1, requestId: 'req-recovery-test', attempt: recovered ? 2 : 1 },
  });

  function newVm(suffix: string): string {
    const vm = env.vmName(suffix);
    defineVm(vm, [createDisk(join(env.storage.vmsDir, `${vm}--vda.qcow2`))]);
    return vm;
  }

  test('snapshot.create: a recovered run finds the snapshot and succeeds with it', async () => {
    const vm = newVm('snap');
    const p = { host: 'local', vm, name: 's1', kind: 'internal' as const };
    const first = (await EXECUTORS['snapshot.create'](p, ctx(false))) as { snapshot: { name: string } };
    assert.equal(first.snapshot.name, 's1');
    const again = (await EXECUTORS['snapshot.create'](p, ctx(true))) as { snapshot: { name: string } };
    assert.deepEqual(again, first);
    await assert.rejects(EXECUTORS['snapshot.create'](p, ctx(false)), (e) => isKvmopsError(e, 'name-taken'));
    // snapshot.delete twice: the recovered one finds it gone.
    await EXECUTORS['snapshot.delete']({ host: 'local', vm, name: 's1' }, ctx(false));
    assert.deepEqual(await EXECUTORS['snapshot.delete']({ host: 'local', vm, name: 's1' }, ctx(true)), {
      deleted: { vm, snapshot: 's1' },
      alreadyGone: true,
    });
  });

  test('vm.start / vm.stop / vm.delete: recovered runs see the state already reached', async () => {
    const vm = newVm('life');
    assert.deepEqual(await EXECUTORS['vm.start']({ host: 'local', vm }, ctx(false)), { vm, state: 'running' });
    assert.deepEqual(await EXECUTORS['vm.start']({ host: 'local', vm }, ctx(true)), { vm, state: 'running', alreadyRunning: true });
    await EXECUTORS['vm.stop']({ host: 'local', vm, force: true }, ctx(false));
    assert.deepEqual(await EXECUTORS['vm.stop']({ host: 'local', vm, force: true }, ctx(true)), {
      vm,
      state: 'shut off',
      alreadyStopped: true,
    });
    await EXECUTORS['vm.delete']({ host: 'local', vm }, ctx(false));
    assert.equal(domainExists(vm), false);
    assert.deepEqual(await EXECUTORS['vm.delete']({ host: 'local', vm }, ctx(true)), { deleted: { vm }, alreadyGone: true });
    await assert.rejects(EXECUTORS['vm.delete']({ host: 'local', vm }, ctx(false)), (e) => isKvmopsError(e, 'vm-not-found'));
  });
});
