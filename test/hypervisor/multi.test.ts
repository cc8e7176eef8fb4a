/** virshMulti against the real virsh: long batches are chunked, results stay per command and in order. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { virshMulti } from '../../src/hypervisor/multi.js';
import { skipUnlessLibvirt, URI } from '../helpers/libvirt.js';

describe('virshMulti chunks (real virsh)', skipUnlessLibvirt(), () => {
  it('a batch far over one argument’s 128 KiB runs, each command with its own output and error', async () => {
    // 6,000 commands ≈ 400 KiB of command string: one virsh argument fails with E2BIG
    const commands = Array.from({ length: 6000 }, (_, i) => (i % 1000 === 999 ? ['echo', '--err', `e${i}`] : ['echo', `out-${i}`]));
    const rs = await virshMulti({ uri: URI }, commands);
    assert.equal(rs.length, commands.length);
    rs.forEach((r, i) => {
      if (i % 1000 === 999) assert.equal(r.error?.message, `e${i}`);
      else assert.equal(r.stdout.trim(), `out-${i}`, `command ${i}`);
    });
  });

  it('small chunks: the same results as one process', async () => {
    const commands = Array.from({ length: 50 }, (_, i) => ['echo', `x${i}`]);
    const one = await virshMulti({ uri: URI }, commands);
    const many = await virshMulti({ uri: URI }, commands, { chunkBytes: 200 });
    const side = await virshMulti({ uri: URI }, commands, { chunkBytes: 200, parallel: 3 });
    assert.deepEqual(side.map((r) => r.stdout.trim()), commands.map((c) => c[1]), 'chunks run side by side keep their order');
    assert.deepEqual(many.map((r) => r.stdout.trim()), one.map((r) => r.stdout.trim()));
    assert.deepEqual(many.map((r) => r.stdout.trim()), commands.map((c) => c[1]));
  });
});
