/** Virsh: one entry point, and one command is a batch of one (no second way to run virsh). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { CommandError } from '../../src/hypervisor/exec.js';
import type { MultiOptions, MultiResult } from '../../src/hypervisor/multi.js';
import { virshArgs, type VirshArgs } from '../../src/hypervisor/virsh-args.js';
import { Virsh } from '../../src/hypervisor/virsh.js';

/** Answers every batch with `reply` and records what it was asked: no process starts. */
class AnsweringVirsh extends Virsh {
  readonly batches: Array<{ commands: readonly VirshArgs[]; opts: MultiOptions }> = [];
  constructor(private readonly reply: (c: VirshArgs) => MultiResult) {
    super('qemu:///system');
  }
  override async multi(commands: readonly VirshArgs[], opts: MultiOptions = {}): Promise<MultiResult[]> {
    this.batches.push({ commands, opts });
    return commands.map(this.reply);
  }
}

describe('Virsh.run', () => {
  it('runs its command as a batch of one, with a timeout, and answers its stdout', async () => {
    const virsh = new AnsweringVirsh((args) => ({ args, stdout: 'Using library: libvirt 9.0.0\n', stderr: '' }));
    const signal = new AbortController().signal;
    assert.equal(await virsh.run(virshArgs.version(), { signal }), 'Using library: libvirt 9.0.0\n');
    assert.deepEqual(virsh.batches, [{ commands: [['version']], opts: { timeoutMs: 60_000, signal } }]);
    await virsh.run(virshArgs.version(), { timeoutMs: 5_000 });
    assert.equal(virsh.batches[1]!.opts.timeoutMs, 5_000);
  });

  it("throws that command's classified error", async () => {
    const error = new CommandError('vm-not-found', 'Domain not found', { argv: ['virsh'], exitCode: 1, stderr: 'error: Domain not found' });
    const virsh = new AnsweringVirsh((args) => ({ args, stdout: '', stderr: error.stderr, error }));
    await assert.rejects(virsh.run(virshArgs.listAll()), (e) => e === error && isKvmopsError(e, 'vm-not-found'));
  });
});
