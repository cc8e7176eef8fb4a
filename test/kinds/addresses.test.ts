import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HostDriver } from '../../src/hypervisor/types.js';
import { waitAddresses } from '../../src/kinds/addresses.js';
import type { ExecutorContext } from '../../src/kinds/kind.js';

function ctxWith(waitForAddresses: HostDriver['waitForAddresses'], signal = new AbortController().signal): ExecutorContext {
  return {
    host: { waitForAddresses } as HostDriver,
    signal,
    progress: () => {},
    recovered: false,
    job: { id: 1, requestId: 'req-x', attempt: 1 },
    reportInventory: () => {},
  };
}

test("a start's address wait never fails the job: the VMs are made and running", async () => {
  const unreachable = ctxWith(async () => {
    throw new Error('failed to connect to the hypervisor');
  });
  assert.deepEqual(await waitAddresses(unreachable, ['web-01', { vm: 'web-02', vmUuid: '00000000-0000-4000-8000-000000000002' }]), [
    { vm: 'web-01', missing: 'unreadable' },
    { vm: 'web-02', missing: 'unreadable' },
  ]);
  const ac = new AbortController();
  ac.abort();
  const cancelled = ctxWith(async () => {
    throw new Error('virsh was stopped: the job was cancelled');
  }, ac.signal);
  assert.deepEqual(await waitAddresses(cancelled, ['web-01']), [{ vm: 'web-01', missing: 'timeout' }]);
  const found = ctxWith(async (vms) =>
    vms.map((v) => ({ vm: String(v), uuid: 'u', address: { mac: '52:54:00:00:00:01', protocol: 'ipv4' as const, address: '198.19.1.5', prefix: 24, source: 'lease' as const } })),
  );
  assert.deepEqual(await waitAddresses(found, ['web-01']), [{ vm: 'web-01', address: '198.19.1.5', source: 'lease' }]);
});
