/** Virsh.multi against the real virsh: long batches are chunked, results stay per command and in order. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { virshArgs } from '../../src/hypervisor/virsh-args.js';
import { Virsh } from '../../src/hypervisor/virsh.js';
import { skipUnlessLibvirt, URI } from '../helpers/libvirt.js';

describe('Virsh.multi chunks (real virsh)', skipUnlessLibvirt(), () => {
  const virsh = new Virsh(URI);

  it('a batch far over one argument’s 128 KiB runs, each command with its own output and error', async () => {
    // 6,000 commands ≈ 400 KiB of command string: one virsh argument fails with E2BIG
    const commands = Array.from({ length: 6000 }, (_, i) => (i % 1000 === 999 ? virshArgs.echo(`e${i}`, { err: true }) : virshArgs.echo(`out-${i}`)));
    const rs = await virsh.multi(commands);
    assert.equal(rs.length, commands.length);
    rs.forEach((r, i) => {
      if (i % 1000 === 999) assert.equal(r.error?.message, `e${i}`);
      else assert.equal(r.stdout.trim(), `out-${i}`, `command ${i}`);
    });
  });

  it('small chunks: the same results as one process', async () => {
    const texts = Array.from({ length: 50 }, (_, i) => `x${i}`);
    const commands = texts.map((t) => virshArgs.echo(t));
    const one = await virsh.multi(commands);
    const many = await virsh.multi(commands, { chunkBytes: 200 });
    const side = await virsh.multi(commands, { chunkBytes: 200, parallel: 3 });
    assert.deepEqual(side.map((r) => r.stdout.trim()), texts, 'chunks run side by side keep their order');
    assert.deepEqual(many.map((r) => r.stdout.trim()), one.map((r) => r.stdout.trim()));
    assert.deepEqual(many.map((r) => r.stdout.trim()), texts);
  });

  it('the command string carries any argument exactly: quotes, backslashes, ; # and newlines', async () => {
    // what kvmops passes besides names: XML with '-quoted attributes (the revert record), paths
    const args = ["<r a='1' b=\"2\"/>", "it's", 'a\\b', 'x ; echo y', '#not a comment', 'two\nlines', "''", 'é ü', ' spaced '];
    const rs = await virsh.multi(args.map((a) => virshArgs.echo(a)));
    assert.deepEqual(rs.map((r) => r.error?.message), args.map(() => undefined));
    assert.deepEqual(rs.map((r) => r.stdout), args.map((a) => `${a}\n`), 'each output as if the command had run alone');
    assert.equal(await virsh.run(virshArgs.echo(args[0]!)), `${args[0]}\n`, 'one command is a batch of one');
  });

  it('a cancelled call fails with aborted before virsh starts (one command or many)', async () => {
    const ac = new AbortController();
    ac.abort();
    const aborted = (e: unknown) => isKvmopsError(e, 'aborted');
    await assert.rejects(virsh.multi([virshArgs.echo('a'), virshArgs.echo('b')], { signal: ac.signal }), aborted);
    await assert.rejects(virsh.run(virshArgs.echo('a'), { signal: ac.signal }), aborted);
  });
});
