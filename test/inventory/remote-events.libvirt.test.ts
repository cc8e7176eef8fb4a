/**
 * The inventory of a really remote host (a lab host, qemu+ssh://): the first import reads it, and
 * libvirt's event stream — one `virsh event --all --loop` over qemu+ssh — keeps it true with the
 * timer out of the way (KVMOPS_RECONCILE=3h): a VM defined, started, stopped and undefined by
 * hand on the lab is in the inventory within seconds each.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCore, type AppCore } from '../../src/app.js';
import { loadEnv } from '../../src/config/env.js';
import { labSkipReason, labUp, type Lab } from '../helpers/lab.js';
import { cleanupEnv, makeTestEnv, type LibvirtTestEnv } from '../helpers/libvirt.js';
import { StorageLayout } from '../../src/hypervisor/storage.js';

/** A pass over the lab costs more than a local one (each virsh process opens an ssh connection: 0.5–0.8 s here under load). */
const WITHIN_MS = 15_000;

async function within<T>(ms: number, what: string, probe: () => T | undefined | false): Promise<{ value: T; tookMs: number }> {
  const t0 = performance.now();
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return { value, tookMs: Math.round(performance.now() - t0) };
    if (performance.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('inventory of a qemu+ssh host from its events (a lab host, KVMOPS_RECONCILE=3h)', { skip: labSkipReason() }, () => {
  let lab: Lab;
  let env: LibvirtTestEnv;
  let dbDir: string;
  let core: AppCore;
  let storageDir: string;
  const inLab = (program: string, ...args: string[]) => {
    const r = lab.exec(program, ...args);
    assert.equal(r.status, 0, `${program} ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const labVirsh = (...args: string[]) => inLab('virsh', '-q', '-c', 'qemu:///system', ...args);

  before(async () => {
    env = makeTestEnv('rev');
    lab = labUp();
    storageDir = `${lab.storage}/${env.prefix}kv`;
    dbDir = mkdtempSync(path.join(tmpdir(), 'kvmops-rev-'));
    core = createCore(
      loadEnv({
        KVMOPS_DB: path.join(dbDir, 'kvmops.db'),
        // the lab alone: this file tests the remote stream, not the shared local host
        KVMOPS_HOSTS: `lab=${lab.uri}`,
        KVMOPS_STORAGE_DIR: storageDir,
        KVMOPS_RECONCILE: '3h',
        KVMOPS_LOG_LEVEL: process.env.KVMOPS_TEST_LOG ?? 'silent',
      }),
      { guildId: null },
    );
    // a VM made by hand before kvmops looks, its disk in no libvirt pool (as most are)
    const src = `${lab.storage}/${env.prefix}src`;
    inLab('mkdir', '-p', src);
    inLab('qemu-img', 'create', '-q', '-f', 'qcow2', `${src}/old.qcow2`, '16M');
    inLab(
      'sh',
      '-c',
      'printf "%s" "$1" > /tmp/old.xml && virsh -q -c qemu:///system define /tmp/old.xml',
      'sh',
      `<domain type='qemu'><name>${env.vmName('old')}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${src}/old.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>`,
    );
    core.reconciler.start();
    await within(60_000, 'the first import', () => core.inventory.hostStatus('lab').importedAt !== null);
    await within(20_000, 'the event stream', () => core.reconciler.eventStream('lab')?.pid ?? undefined);
  });
  after(async () => {
    await core?.reconciler.stop();
    core?.store.close();
    try {
      lab?.down();
    } finally {
      if (storageDir) cleanupEnv(env.prefix, new StorageLayout(storageDir), [storageDir]);
      env?.cleanup();
      if (dbDir) rmSync(dbDir, { recursive: true, force: true });
    }
  });

  it('the first import read the VM made before, with its disk outside every pool', () => {
    const known = core.inventory.reads.vmsNamed('lab', env.vmName('old'))[0];
    const old = known && core.inventory.reads.vm('lab', known.uuid);
    assert.ok(old, 'imported');
    assert.deepEqual(old.disks.map((d) => [d.target, d.file, d.unreadable]), [['vda', `${lab.storage}/${env.prefix}src/old.qcow2`, undefined]]);
  });

  it('a VM defined, started, stopped and undefined by hand on the lab: in the inventory within seconds each', async (t) => {
    const reads = () => core.inventory.reads;
    const name = env.vmName('hand');
    inLab('sh', '-c', 'printf "%s" "$1" > /tmp/hand.xml', 'sh', `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`);
    labVirsh('define', '/tmp/hand.xml');
    const defined = await within(WITHIN_MS, 'defined', () => reads().vmsNamed('lab', name)[0]);
    const uuid = defined.value.uuid;
    assert.equal(labVirsh('domuuid', name).trim(), uuid);
    labVirsh('start', name);
    const started = await within(WITHIN_MS, 'running', () => reads().vm('lab', uuid)?.state === 'running');
    labVirsh('destroy', name);
    const stopped = await within(WITHIN_MS, 'shut off', () => reads().vm('lab', uuid)?.state === 'shut off');
    labVirsh('undefine', name);
    const gone = await within(WITHIN_MS, 'gone', () => reads().vm('lab', uuid) === undefined);
    t.diagnostic(`seen after: defined ${defined.tookMs} ms, started ${started.tookMs} ms, stopped ${stopped.tookMs} ms, undefined ${gone.tookMs} ms`);
    assert.ok(core.reconciler.eventStream('lab')!.events >= 4, 'through events');
  });
});
