import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEnvFile } from '../../src/hypervisor/sysprep.js';

describe('supermin env file', () => {
  it('reads export lines as written by host-setup.sh --seal', () => {
    assert.deepEqual(
      parseEnvFile('export SUPERMIN_KERNEL=/k/vmlinuz\nexport LIBGUESTFS_BACKEND=direct\n# c\nX="q v"\n'),
      { SUPERMIN_KERNEL: '/k/vmlinuz', LIBGUESTFS_BACKEND: 'direct', X: 'q v' },
    );
  });
});
