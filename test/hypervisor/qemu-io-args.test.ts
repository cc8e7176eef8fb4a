import { describe } from 'node:test';
import { qemuIoArgs as q } from '../../src/hypervisor/qemu-io-args.js';
import { argvCases } from '../helpers/argv.js';

describe('qemu-io argv', () => {
  argvCases(q, {
    writePattern: [[q.writePattern('/v/a.qcow2', 0x5a, '1M'), ['-c', 'write -P 0x5a 0 1M', '/v/a.qcow2']]],
    // read-only and -U: never writes, also on a running VM's disk
    readPattern: [[q.readPattern('/v/a.qcow2', 0xc3, '512k'), ['-r', '-U', '-c', 'read -P 0xc3 0 512k', '/v/a.qcow2']]],
  });
});
