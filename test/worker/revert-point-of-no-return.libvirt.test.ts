/**
 * The revert's record at its point of no return (real libvirt, the real store and worker).
 *
 * A `virsh` wrapper first on PATH (this test process only) passes every call to the real virsh,
 * except that once the disks have been reverted it makes one chosen later call fail as a dropped
 * connection does (`host-unreachable`, a transient error: the job retries), or hold it for a
 * while (to cancel the job in that window). Between the two attempts the test writes a new
 * pattern to the VM's disk — the work done after the revert — and checks that attempt 2 does not
 * revert again over it, finishes what attempt 1 left (clean-up, start) and says "already
 * applied". On the code before the record moved to the point of no return, attempt 2 reverted
 * again and the pattern was lost.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { silentLogger } from '../../src/domain/logger.js';
import { createHypervisor } from '../../src/hypervisor/index.js';
import type { HostDriver } from '../../src/hypervisor/types.js';
import { Worker } from '../../src/worker/worker.js';
import { bob, freshStore, snapshotRevert } from '../jobs/helpers.js';
import {
  createDisk,
  defineVm,
  diskOf,
  hasPattern,
  makeTestEnv,
  ownedDiskPath,
  skipUnlessLibvirt,
  virsh,
  writePattern,
  type LibvirtTestEnv,
} from '../helpers/libvirt.js';
import { deferrals, waitFor } from './helpers.js';

const A = 0x11; // in the snapshot
const B = 0x22; // written after the snapshot: the revert discards it
const C = 0x33; // written after the revert, before the retry: must survive

const skip = skipUnlessLibvirt();

describe('a revert interrupted after its point of no return is finished, not redone', { ...skip, timeout: 180_000 }, () => {
  let env: LibvirtTestEnv;
  let host: HostDriver;
  let faults: string;
  let oldPath: string | undefined;
  let n = 0;

  /**
   * What the wrapper does next: after a successful call containing `after`, the next call
   * containing `on` fails (or is held `holdMs`). kvmops quotes each word of a command string:
   * `'start' '<uuid>'` is the start command, `then='start'` inside a record is not.
   */
  const arm = (fault: { after: string; on: string; holdMs?: number }) => {
    for (const f of ['arm', 'armed', 'fired']) rmSync(path.join(faults, f), { force: true });
    writeFileSync(path.join(faults, 'after'), fault.after);
    writeFileSync(path.join(faults, 'on'), fault.on);
    writeFileSync(path.join(faults, 'hold'), String((fault.holdMs ?? 0) / 1000));
    writeFileSync(path.join(faults, 'arm'), '');
  };
  const fired = () => existsSync(path.join(faults, 'fired'));

  before(() => {
    if (skip.skip) return;
    env = makeTestEnv('pnr');
    faults = mkdtempSync(path.join(tmpdir(), 'kvmops-pnr-'));
    const real = execFileSync('sh', ['-c', 'command -v virsh'], { encoding: 'utf8' }).trim();
    const wrapper = path.join(faults, 'virsh');
    writeFileSync(
      wrapper,
      `#!/bin/bash
# Fault injection for one test (see the test file). Real virsh: ${real}
d=${JSON.stringify(faults)}
args="$*"
[ -n "$KVMOPS_PNR_LOG" ] && echo "$args" | cut -c1-200 >> "$KVMOPS_PNR_LOG"
if [ -e "$d/armed" ] && [[ "$args" == *"$(cat "$d/on")"* ]]; then
  rm -f "$d/armed"; touch "$d/fired"
  hold=$(cat "$d/hold")
  if [ "$hold" != "0" ]; then sleep "$hold"; exec ${real} "$@"; fi
  echo "error: failed to connect to the hypervisor" >&2
  exit 1
fi
${real} "$@"; rc=$?
if [ $rc -eq 0 ] && [ -e "$d/arm" ] && [[ "$args" == *"$(cat "$d/after")"* ]]; then rm -f "$d/arm"; touch "$d/armed"; fi
exit $rc
`,
    );
    chmodSync(wrapper, 0o755);
    oldPath = process.env.PATH;
    process.env.PATH = `${faults}:${oldPath}`;
    host = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir }).host('local');
  });
  after(() => {
    if (oldPath !== undefined) process.env.PATH = oldPath;
    env?.cleanup();
    if (faults) rmSync(faults, { recursive: true, force: true });
  });

  /** A VM whose own disk (named for its uuid) holds A in snapshot s1 and B now. */
  /** The revert of `vm` to s1, pinned as the chat pins it. */
  const revertOf = (vm: { vm: string; uuid: string; createdAt: number; files: string[] }) => ({
    ...snapshotRevert(vm.vm, 's1'),
    payload: { host: 'local', vm: vm.vm, name: 's1', vmUuid: vm.uuid, snapshot: { createdAt: vm.createdAt, files: vm.files } },
    needsApproval: false,
  });

  async function vmWithSnapshot(kind: 'internal' | 'external', running: boolean) {
    const vm = env.vmName(`v${++n}`);
    const uuid = randomUUID();
    defineVm(vm, [createDisk(ownedDiskPath(env.storage, uuid))], { uuid });
    writePattern(diskOf(vm), A);
    if (running) virsh('start', vm);
    const s = await host.createSnapshot({ vm, name: 's1', kind });
    if (running) virsh('destroy', vm);
    writePattern(diskOf(vm), B);
    if (running) virsh('start', vm);
    return { vm, uuid, createdAt: s.createdAt, files: s.files };
  }

  function runWorker(t: Parameters<typeof deferrals>[0]) {
    const defer = deferrals(t);
    const store = freshStore(t, { backoff: { baseMs: 1_500, capMs: 1_500 } });
    const worker = new Worker({ store, hypervisor: { hostNames: () => ['local'], host: () => host }, logger: silentLogger });
    worker.start();
    defer(() => worker.stop({ graceMs: 0 }));
    return store;
  }

  test('internal (taken shut off): the clean-up fails after the revert → attempt 2 finishes it, the work written since survives', async (t) => {
    const target = await vmWithSnapshot('internal', false);
    // the clean-up reads the VM's snapshots again (its first virsh call after the revert's record)
    const vm = target.vm;
    arm({ after: "'snapshot-revert'", on: "'snapshot-list'" });
    const store = runWorker(t);
    const job = store.enqueue(revertOf(target));
    await waitFor('attempt 1 to fail', () => store.get(job.id)?.state === 'queued' && store.get(job.id)!.attempts === 1, 60_000);
    assert.ok(fired(), 'the fault was injected');
    assert.ok(hasPattern(diskOf(vm), A), 'attempt 1 reverted');
    writePattern(diskOf(vm), C);
    await waitFor('the job to end', () => ['succeeded', 'failed'].includes(store.get(job.id)!.state), 60_000);
    const done = store.get(job.id)!;
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
    assert.equal(done.attempts, 2);
    assert.deepEqual(done.result, { reverted: { vm, snapshot: 's1' }, alreadyApplied: true });
    assert.ok(hasPattern(diskOf(vm), C), 'attempt 2 did not revert again over the work written since');
    assert.match(virsh('metadata', vm, 'https://kvmops.dev/xmlns/1/revert', '--config'), new RegExp(`id="${done.requestId}"`));
    assert.doesNotMatch(virsh('metadata', vm, 'https://kvmops.dev/xmlns/1/revert', '--config'), /state="pending"/, 'the record says done');
  });

  test('external (taken running): the start fails after the revert → attempt 2 starts it and keeps what was written since', async (t) => {
    const target = await vmWithSnapshot('external', true);
    const vm = target.vm;
    arm({ after: "'snapshot-create'", on: "'start' '" });
    const store = runWorker(t);
    const job = store.enqueue(revertOf(target));
    await waitFor('attempt 1 to fail', () => (store.get(job.id)?.state === 'queued' && store.get(job.id)!.attempts === 1) || store.get(job.id)!.finishedAt !== null, 60_000);
    assert.equal(store.get(job.id)!.state, 'queued', JSON.stringify(store.get(job.id)));
    assert.ok(fired(), 'the fault was injected');
    assert.equal(virsh('domstate', vm).trim(), 'shut off');
    const overlay = diskOf(vm);
    assert.ok(hasPattern(overlay, A), 'attempt 1 reverted');
    writePattern(overlay, C);
    await waitFor('the job to end', () => ['succeeded', 'failed'].includes(store.get(job.id)!.state), 60_000);
    const done = store.get(job.id)!;
    assert.equal(done.state, 'succeeded', JSON.stringify(done.error));
    assert.deepEqual(done.result, { reverted: { vm, snapshot: 's1' }, alreadyApplied: true });
    assert.equal(virsh('domstate', vm).trim(), 'running', 'attempt 2 did the start attempt 1 could not');
    assert.equal(diskOf(vm), overlay, 'no new overlay: no second revert');
    assert.ok(hasPattern(overlay, C), 'the work written since survives');
  });

  test('a cancel that comes after the point of no return: the job reports the revert, not "cancelled"', async (t) => {
    const target = await vmWithSnapshot('internal', true);
    // the snapshot was taken running: the revert leaves it paused; hold the resume for a while
    const vm = target.vm;
    arm({ after: "'snapshot-revert'", on: "'resume' '", holdMs: 3_000 });
    const store = runWorker(t);
    const job = store.enqueue(revertOf(target));
    await waitFor('the resume to be held', () => fired(), 60_000);
    assert.equal(store.requestCancel(job.id, bob).effect, 'stop-requested');
    await waitFor('the job to end', () => ['succeeded', 'failed', 'cancelled'].includes(store.get(job.id)!.state), 60_000);
    const done = store.get(job.id)!;
    assert.equal(done.state, 'succeeded', `the revert happened; the job must say so (${JSON.stringify(done.error)})`);
    assert.deepEqual(done.result, { reverted: { vm, snapshot: 's1' } });
    assert.equal(done.attempts, 1);
    assert.equal(virsh('domstate', vm).trim(), 'running');
    assert.ok(hasPattern(diskOf(vm), A));
  });
});
