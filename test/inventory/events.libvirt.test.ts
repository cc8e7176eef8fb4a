import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCore, type AppCore } from '../../src/app.js';
import { loadEnv } from '../../src/config/env.js';
import { createDisk, defineMany, defineVm, makeTestEnv, skipUnlessLibvirt, uuidsByName, virsh, type LibvirtTestEnv } from '../helpers/libvirt.js';

/**
 * libvirt's event stream keeps the inventory true within about a second, with the timer out of
 * the way (KVMOPS_RECONCILE=3h): the core's reconciler (as createCore wires it) follows one
 * `virsh event --all --loop` for the host; a VM defined, started, snapshotted (while running),
 * stopped and undefined by hand is in the inventory within seconds each; the event process killed
 * (SIGKILL) is started again and events work again; stopping the reconciler kills the child.
 * The host is shared: every assertion looks at this file's own names and uuids.
 */

/**
 * The goal is ~2 s (measured here 0.4–1.3 s: a 200 ms debounce, then one pass); the bound leaves
 * room for a shared 2-core machine under a load of 10+. Without events nothing is seen for 3 h.
 */
const WITHIN_MS = 3_000;

/** Polls `probe` until it holds; returns how long that took (fails after `ms`). */
async function within<T>(ms: number, what: string, probe: () => T | undefined | false): Promise<{ value: T; tookMs: number }> {
  const t0 = performance.now();
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return { value, tookMs: Math.round(performance.now() - t0) };
    if (performance.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('inventory from libvirt events (the real host, KVMOPS_RECONCILE=3h)', skipUnlessLibvirt(), () => {
  let env: LibvirtTestEnv;
  let dbDir: string;
  let core: AppCore;
  before(async () => {
    env = makeTestEnv('ev');
    dbDir = mkdtempSync(path.join(tmpdir(), 'kvmops-ev-'));
    core = createCore(
      loadEnv({
        KVMOPS_DB: path.join(dbDir, 'kvmops.db'),
        KVMOPS_HOSTS: 'local=qemu:///system',
        KVMOPS_STORAGE_DIR: env.storageDir,
        KVMOPS_RECONCILE: '3h',
        KVMOPS_LOG_LEVEL: process.env.KVMOPS_TEST_LOG ?? 'silent',
      }),
      { guildId: null },
    );
    core.reconciler.start();
    await within(60_000, 'the first import', () => core.inventory.hostStatus('local').importedAt !== null);
    await within(10_000, 'the event stream', () => core.reconciler.eventStream('local')?.pid ?? undefined);
  });
  after(async () => {
    await core?.reconciler.stop();
    core?.store.close();
    env?.cleanup();
    if (dbDir) rmSync(dbDir, { recursive: true, force: true });
  });

  const reads = () => core.inventory.reads;
  const named = (name: string) => reads().vmsNamed('local', name)[0];

  it('a VM defined, started, snapshotted, stopped and undefined by hand: in the inventory within seconds each', async (t) => {
    const name = env.vmName('a');
    defineVm(name, [createDisk(`${env.storageDir}/a.qcow2`, { sizeMiB: 16 })]);
    const defined = await within(WITHIN_MS, 'defined', () => named(name));
    const uuid = uuidsByName().get(name)!;
    assert.equal(defined.value.uuid, uuid);

    virsh('start', name);
    const started = await within(WITHIN_MS, 'running', () => reads().vm('local', uuid)?.state === 'running');

    virsh('snapshot-create-as', name, '--name', 'by-hand');
    const snapped = await within(WITHIN_MS, 'the snapshot', () => reads().vm('local', uuid)?.snapshots.some((s) => s.name === 'by-hand'));

    virsh('destroy', name);
    const stopped = await within(WITHIN_MS, 'shut off', () => reads().vm('local', uuid)?.state === 'shut off');

    virsh('undefine', name, '--snapshots-metadata');
    const gone = await within(WITHIN_MS, 'gone', () => reads().vm('local', uuid) === undefined);
    t.diagnostic(`seen after: defined ${defined.tookMs} ms, started ${started.tookMs} ms, snapshot ${snapped.tookMs} ms, stopped ${stopped.tookMs} ms, undefined ${gone.tookMs} ms`);
    assert.ok(core.reconciler.eventStream('local')!.events >= 5, 'through events');
  });

  it('the event process killed: started again, and events work again', async (t) => {
    const before = core.reconciler.eventStream('local')!;
    assert.ok(before.pid !== null && alive(before.pid));
    process.kill(before.pid, 'SIGKILL');
    const again = await within(5_000, 'a new event process', () => {
      const s = core.reconciler.eventStream('local')!;
      return s.pid !== null && s.pid !== before.pid && s.starts === before.starts + 1 ? s : undefined;
    });
    assert.ok(alive(again.value.pid!));
    const [name] = defineMany([env.vmName('b')]);
    const seen = await within(WITHIN_MS, 'a VM defined after the restart', () => named(name!));
    t.diagnostic(`restarted after ${again.tookMs} ms; a VM defined then seen after ${seen.tookMs} ms`);
  });

  it('stopping the reconciler stops the event process (its child is gone)', async () => {
    const pid = core.reconciler.eventStream('local')!.pid!;
    assert.ok(alive(pid));
    await core.reconciler.stop();
    assert.equal(alive(pid), false, 'the virsh event process is gone once stop() resolves');
    assert.equal(core.reconciler.eventStream('local'), undefined);
  });
});
