import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { qemuIoArgs as q } from '../../src/hypervisor/qemu-io-args.js';
import { argvCases } from '../helpers/argv.js';

describe('qemu-io argv', () => {
  argvCases(q, {
    writePattern: [[q.writePattern('/v/a.qcow2', 0x5a, '1M'), ['-c', 'write -P 0x5a 0 1M', '/v/a.qcow2']]],
    // read-only and -U: never writes, also on a running VM's disk
    readPattern: [[q.readPattern('/v/a.qcow2', 0xc3, '512k'), ['-r', '-U', '-c', 'read -P 0xc3 0 512k', '/v/a.qcow2']]],
    // read-only, the format given, one `read -v` per range; `--`: the file is never an option
    dump: [
      [
        q.dump('-v.qcow2', [{ offset: 0, length: 2048 }, { offset: 65600, length: 8 }]),
        ['-r', '-U', '-f', 'qcow2', '-c', 'read -v 0 2048', '-c', 'read -v 65600 8', '--', '-v.qcow2'],
      ],
    ],
  });
});

describe('qemu-io dump ranges', () => {
  it('refuses a range that is not two non-negative integers', () => {
    for (const r of [{ offset: -1, length: 8 }, { offset: 0, length: 0 }, { offset: 0.5, length: 8 }, { offset: 0, length: Number.NaN }]) {
      assert.throws(() => q.dump('/v/a.qcow2', [r]), /byte range/);
    }
  });
});
