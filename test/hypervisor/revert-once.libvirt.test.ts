/**
 * Revert exactly once (real libvirt): the request id is recorded on the VM, and a second call
 * with the same id does nothing — proven with data written after the first revert.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import { REVERT_NS } from '../../src/hypervisor/snapshots/revert-record.js';
import {
  createDisk,
  defineVm,
  diskOf,
  hasPattern,
  makeTestEnv,
  ownedDiskPath,
  skipUnlessLibvirt,
  virsh,
  writePattern,
  type LibvirtTestEnv,
} from '../helpers/libvirt.js';

const skip = skipUnlessLibvirt();
const A = 0x11;
const B = 0x22;
const C = 0x33;

describe('revert exactly once (real libvirt)', skip, () => {
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  let n = 0;
  before(() => {
    env = makeTestEnv('once');
    host = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir });
  });
  after(() => env?.cleanup());

  const vmWithSnapshot = async (kind: 'internal' | 'external') => {
    const vm = env.vmName(`v${++n}`);
    const uuid = randomUUID();
    defineVm(vm, [createDisk(ownedDiskPath(env.storage, uuid))], { uuid });
    writePattern(diskOf(vm), A);
    await host.createSnapshot({ vm, name: 's1', kind });
    writePattern(diskOf(vm), B);
    return vm;
  };
  const recorded = (vm: string) => [...virsh('metadata', vm, REVERT_NS, '--config').matchAll(/id="([^"]+)"/g)].map((m) => m[1]);

  for (const kind of ['internal', 'external'] as const) {
    it(`${kind}: the same request id twice reverts once; another id reverts again`, async () => {
      const vm = await vmWithSnapshot(kind);
      assert.deepEqual(await host.revertSnapshot({ vm, name: 's1', requestId: 'job-1' }), { alreadyApplied: false });
      assert.ok(hasPattern(diskOf(vm), A));
      assert.deepEqual(recorded(vm), ['job-1']);

      writePattern(diskOf(vm), C); // work done after the revert
      assert.deepEqual(await host.revertSnapshot({ vm, name: 's1', requestId: 'job-1' }), { alreadyApplied: true });
      assert.ok(hasPattern(diskOf(vm), C), 'the second call did not revert again');

      assert.deepEqual(await host.revertSnapshot({ vm, name: 's1', requestId: 'job-2' }), { alreadyApplied: false });
      assert.ok(hasPattern(diskOf(vm), A));
      // a native revert restores the snapshot's definition (which has no record): both ids stay
      assert.deepEqual(recorded(vm), ['job-1', 'job-2']);
      writePattern(diskOf(vm), C);
      assert.deepEqual(await host.revertSnapshot({ vm, name: 's1', requestId: 'job-1' }), { alreadyApplied: true });
      assert.ok(hasPattern(diskOf(vm), C));
    });
  }

  it('without a request id every call reverts, and nothing is recorded', async () => {
    const vm = await vmWithSnapshot('internal');
    assert.deepEqual(await host.revertSnapshot({ vm, name: 's1' }), { alreadyApplied: false });
    writePattern(diskOf(vm), C);
    await host.revertSnapshot({ vm, name: 's1' });
    assert.ok(hasPattern(diskOf(vm), A));
    assert.doesNotMatch(virsh('dumpxml', '--inactive', vm), /kvmops\.dev\/xmlns\/1\/revert/);
  });
});
