import { describe } from 'node:test';
import { sysprepArgs as s } from '../../src/hypervisor/sysprep-args.js';
import { argvCases } from '../helpers/argv.js';

// What every seal adds after the disks: an empty machine-id, no cloud-init state, host keys at boot.
const DISTINCT = [
  '--truncate',
  '/etc/machine-id',
  '--delete',
  '/var/lib/cloud/*',
  '--mkdir',
  '/etc/systemd/system/ssh.service.d',
  '--write',
  '/etc/systemd/system/ssh.service.d/kvmops-host-keys.conf:[Service]\nExecStartPre=-/usr/bin/ssh-keygen -A\n',
];

describe('virt-sysprep argv', () => {
  argvCases(s, {
    version: [[s.version(), ['--version']]],
    // every disk of the guest in one run, each its own -a; the format is given, not probed
    seal: [
      [s.seal(['/t/base--vda.qcow2']), ['--format', 'qcow2', '-a', '/t/base--vda.qcow2', ...DISTINCT]],
      [s.seal(['/t/a.qcow2', '/t/b.qcow2']), ['--format', 'qcow2', '-a', '/t/a.qcow2', '-a', '/t/b.qcow2', ...DISTINCT]],
    ],
  });
});
