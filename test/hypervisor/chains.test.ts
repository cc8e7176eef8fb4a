import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatsAgree } from '../../src/hypervisor/chains.js';

test('a disk whose pool format differs from the domain\'s is unreadable, but an ISO attached as raw is what it says', () => {
  assert.equal(formatsAgree('qcow2', 'qcow2'), true);
  assert.equal(formatsAgree('raw', 'raw'), true);
  // a cloud-init seed or an installer CD: libvirt's pool says iso, the domain says raw
  assert.equal(formatsAgree('raw', 'iso'), true);
  // the dangerous mix-ups stay refused
  assert.equal(formatsAgree('raw', 'qcow2'), false);
  assert.equal(formatsAgree('qcow2', 'raw'), false);
  assert.equal(formatsAgree('qcow2', 'iso'), false);
});
