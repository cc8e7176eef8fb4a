import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guestfishArgs as g } from '../../src/hypervisor/guestfish-args.js';
import { argvCases } from '../helpers/argv.js';

describe('guestfish argv', () => {
  argvCases(g, {
    // read-only, every disk its own -a with its format, inspection; one `exists` per path, `:` between
    exist: [
      [g.exist(['/t/a.qcow2'], ['/usr/bin/cloud-init']), ['--ro', '--format=qcow2', '-a', '/t/a.qcow2', '-i', '--', 'exists', '/usr/bin/cloud-init']],
      [
        g.exist(['/t/a.qcow2', '/t/b c.qcow2'], ['/usr/bin/cloud-init', '/usr/local/bin/cloud-init']),
        ['--ro', '--format=qcow2', '-a', '/t/a.qcow2', '-a', '/t/b c.qcow2', '-i', '--', 'exists', '/usr/bin/cloud-init', ':', 'exists', '/usr/local/bin/cloud-init'],
      ],
    ],
  });
  it('a guest path is absolute', () => {
    assert.throws(() => g.exist(['/t/a.qcow2'], ['usr/bin/x']), /absolute/);
    assert.throws(() => g.exist(['/t/a.qcow2'], [':']), /absolute/);
  });
});
