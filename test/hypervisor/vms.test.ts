import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isVmDomain } from '../../src/hypervisor/vms.js';

describe('isVmDomain', () => {
  it('libguestfs appliance domains are not VMs', () => {
    assert.equal(isVmDomain('guestfs-3kq9c1xz0ph2'), false);
    assert.equal(isVmDomain('web-01'), true);
  });
});
