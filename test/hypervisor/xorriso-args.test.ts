import { describe } from 'node:test';
import { xorrisoArgs } from '../../src/hypervisor/xorriso-args.js';
import { argvCases } from '../helpers/argv.js';

describe('xorriso argv', () => {
  argvCases(xorrisoArgs, {
    seedIso: [
      [
        xorrisoArgs.seedIso('/tmp/kvmops-x/seed', '/v/vms/u.seed.iso'),
        ['-as', 'mkisofs', '-quiet', '-output', '/v/vms/u.seed.iso', '-volid', 'cidata', '-joliet', '-rock', '/tmp/kvmops-x/seed'],
      ],
    ],
  });
});
