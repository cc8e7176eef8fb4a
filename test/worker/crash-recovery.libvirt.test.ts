import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deployNames } from '../../src/domain/names.js';
import { createHypervisor } from '../../src/hypervisor/index.js';
import { openJobStore } from '../../src/jobs/store.js';
import { Worker } from '../../src/worker/worker.js';
import {
  createDisk,
  defineVm,
  diskOf,
  domainExists,
  domainXml,
  makeTestEnv,
  seedOf,
  skipUnlessLibvirt,
  writePattern,
  type LibvirtTestEnv,
} from '../helpers/libvirt.js';
import { alice } from '../jobs/helpers.js';
import { waitFor } from './helpers.js';

/**
 * A worker process is SIGKILLed in the middle of a clone deploy (real libvirt, real disks); a new
 * worker on the same database takes the job back and it ends succeeded or failed with nothing
 * half-made: each VM of the batch is whole (domain + its disk) or entirely absent, and the vms
 * dir holds no file that no domain uses.
 */

const FIXTURE = fileURLToPath(new URL('./fixtures/worker-proc.ts', import.meta.url));
const DATA_MIB = 320; // enough that each clone copy takes a noticeable time

describe('crash recovery with the real hypervisor layer', { ...skipUnlessLibvirt(), timeout: 300_000 }, () => {
  let env: LibvirtTestEnv;
  let dbDir: string;
  const template = 'base';

  before(async () => {
    const t0 = Date.now();
    env = makeTestEnv('wcrash');
    dbDir = mkdtempSync(join(tmpdir(), 'kvmops-worker-crash-'));
    const src = env.vmName('src');
    const disk = createDisk(join(env.outsideDir, `${src}.qcow2`), { sizeMiB: 1024 });
    writePattern(disk, 0x5a, '0', `${DATA_MIB}M`);
    defineVm(src, [disk]);
    const hv = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir });
    await hv.host('local').createTemplate({ vm: src, name: template, seal: false });
    console.error(`crash-recovery set-up: ${Date.now() - t0} ms`);
  });

  after(() => {
    env?.cleanup();
    if (dbDir) rmSync(dbDir, { recursive: true, force: true });
  });

  test('SIGKILL mid-clone → recovered by the next worker; nothing half-made', async (t) => {
    const dbFile = join(dbDir, 'kvmops.db');
    const store = openJobStore(dbFile);
    t.after(() => store.close());
    const base = env.vmName('d');
    const job = store.enqueue({
      kind: 'deploy',
      payload: { host: 'local', template, name: base, mode: 'clone', count: 3, start: false },
      requester: alice,
      notify: { adapter: 'shell', guildId: null, channelId: 'ops' },
    });

    // 1. A worker process takes it; kill it (and its cp children: a crashed container) mid-copy.
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, dbFile, env.storageDir, '1500'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group, killed as a whole
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((res) => child.on('exit', () => res()));
    const steps: string[] = [];
    let killedAt: string | undefined;
    const killed = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the child never reached the second copy; steps: ${steps.join(' | ')}; stderr: ${stderr}`)), 120_000);
      createInterface({ input: child.stdout }).on('line', (line) => {
        const msg = JSON.parse(line) as { progress?: { step: string } };
        if (!msg.progress) return;
        steps.push(msg.progress.step);
        if (!killedAt && / \(2\/3\)$/.test(msg.progress.step)) {
          killedAt = msg.progress.step;
          setTimeout(() => {
            process.kill(-child.pid!, 'SIGKILL');
            clearTimeout(timer);
            resolve();
          }, 150);
        }
      });
      child.on('exit', (code) => {
        if (!killedAt) reject(new Error(`child exited ${code} before the kill: ${stderr}`));
      });
    });
    await killed;
    await exited;
    const mid = store.get(job.id)!;
    t.diagnostic(`killed during "${killedAt}"; job was ${mid.state}; files then: ${readdirSync(env.storage.vmsDir).join(', ')}`);
    assert.equal(mid.state, 'running', 'the job was running when the worker died');

    // 2. A new worker (short lease: the reaper takes the dead lease back fast) finishes it.
    const tRecover = Date.now();
    const hv = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir });
    const recoveredSeen: boolean[] = [];
    const worker = new Worker({
      store,
      hypervisor: hv,
      leaseMs: 1_000,
      onExecutorStart: (j) => recoveredSeen.push(j.recovered),
    });
    worker.start();
    t.after(() => worker.stop({ graceMs: 0 }));
    const end = await waitFor(
      'the recovered job to end',
      () => {
        const j = store.get(job.id)!;
        return ['succeeded', 'failed', 'cancelled'].includes(j.state) ? j : undefined;
      },
      240_000,
    );
    t.diagnostic(`recovered job ended ${end.state} ${end.error ? JSON.stringify(end.error) : ''} after ${end.attempts} attempts, ${Date.now() - tRecover} ms after the kill`);
    assert.deepEqual(recoveredSeen.slice(0, 1), [true], 'the next run was marked recovered');
    assert.notEqual(end.state, 'cancelled');

    // 3. Nothing half-made.
    const names = deployNames(base, 3);
    const files = readdirSync(env.storage.vmsDir).sort();
    const used = new Set<string>();
    for (const vm of names) {
      const exists = domainExists(vm);
      // a VM's disk is named for its uuid (src/hypervisor/storage.ts): found through its XML
      const disk = exists ? basename(diskOf(vm)) : '';
      // and so is its cloud-init seed: exactly one per VM, no second one from the first attempt
      const seed = exists ? basename(seedOf(vm)) : '';
      if (end.state === 'succeeded') {
        assert.ok(exists, `${vm} exists`);
        assert.ok(files.includes(disk), `${vm}'s disk exists`);
        assert.ok(files.includes(seed), `${vm}'s seed exists`);
        assert.match(domainXml(vm), new RegExp(`<uuid>${env.storage.ownerOf(diskOf(vm))}</uuid>`));
      } else {
        assert.equal(exists, false, `${vm} is gone after a failed deploy`);
      }
      if (exists) used.add(disk).add(seed);
    }
    assert.deepEqual(files, [...used].sort(), 'no orphan files in the vms dir');
    if (end.state === 'succeeded') assert.deepEqual(end.result, { vms: names, mode: 'clone', started: false });
  });
});
