import { describe } from 'node:test';
import { sysprepArgs as s } from '../../src/hypervisor/sysprep-args.js';
import { argvCases } from '../helpers/argv.js';

describe('virt-sysprep argv', () => {
  argvCases(s, {
    // every disk of the guest in one run, each its own -a; the format is given, not probed
    seal: [
      [s.seal(['/t/base--vda.qcow2']), ['--format', 'qcow2', '-a', '/t/base--vda.qcow2']],
      [s.seal(['/t/a.qcow2', '/t/b.qcow2']), ['--format', 'qcow2', '-a', '/t/a.qcow2', '-a', '/t/b.qcow2']],
    ],
  });
});
