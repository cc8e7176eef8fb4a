import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import { deployNames } from '../../src/domain/names.js';
import { createHypervisor } from '../../src/hypervisor/index.js';
import type { Hypervisor } from '../../src/hypervisor/types.js';
import { openJobStore, type SqliteJobStore } from '../../src/jobs/store.js';
import type { EnqueueRequest, Job } from '../../src/jobs/types.js';
import { Worker } from '../../src/worker/worker.js';
import { createDisk, defineVm, domainExists, domainXml, hasPattern, makeTestEnv, skipUnlessLibvirt, writePattern, type LibvirtTestEnv } from '../helpers/libvirt.js';
import { alice } from '../jobs/helpers.js';
import { waitFor } from './helpers.js';

/**
 * The races of the resource-lock issue, with the real hypervisor layer, real SQLite and a worker
 * that runs jobs side by side (concurrency 4): two deploys whose names overlap, from two
 * templates; two template creates of one name from two VMs. Before job resources both ran, and
 * the loser's clean-up deleted what the winner had made. Now the second is refused when it is
 * enqueued, naming the first, and what the first made is whole (checked by data, not by names).
 */

const notify = { adapter: 'shell', guildId: null, channelId: 'ops' } as const;
const FINAL = ['succeeded', 'failed', 'cancelled'];

/** The file behind a domain's vda (from its XML, whatever the storage naming scheme). */
function vdaOf(vm: string): string {
  const m = /<source file='([^']+)'[^>]*\/>\s*(?:<[^>]+>\s*)*?<target dev='vda'/.exec(domainXml(vm));
  assert.ok(m, `${vm} has a vda file`);
  return m[1]!;
}

describe('resource races with the real hypervisor layer', { ...skipUnlessLibvirt(), timeout: 300_000 }, () => {
  let env: LibvirtTestEnv;
  let dbDir: string;
  let hv: Hypervisor;
  const src = { a: '', b: '' };

  before(async () => {
    env = makeTestEnv('wrace');
    dbDir = mkdtempSync(join(tmpdir(), 'kvmops-worker-race-'));
    hv = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir });
    for (const [key, pattern] of [['a', 0xa1], ['b', 0xb2]] as const) {
      src[key] = env.vmName(`src-${key}`);
      const disk = createDisk(join(env.outsideDir, `${src[key]}.qcow2`), { sizeMiB: 64 });
      writePattern(disk, pattern, '0', '1M');
      defineVm(src[key], [disk]);
    }
    await hv.host('local').createTemplate({ vm: src.a, name: 't-a', seal: false });
    await hv.host('local').createTemplate({ vm: src.b, name: 't-b', seal: false });
  });

  after(() => {
    env?.cleanup();
    if (dbDir) rmSync(dbDir, { recursive: true, force: true });
  });

  function start(t: TestContext): SqliteJobStore {
    const store = openJobStore(join(mkdtempSync(join(dbDir, 'db-')), 'kvmops.db'));
    const worker = new Worker({ store, hypervisor: hv, concurrency: 4 });
    t.after(async () => {
      await worker.stop({ graceMs: 0 });
      store.close();
    });
    worker.start();
    return store;
  }
  const ended = (store: SqliteJobStore, id: number): Promise<Job> =>
    waitFor(`job ${id} to end`, () => {
      const j = store.get(id)!;
      return FINAL.includes(j.state) ? j : undefined;
    }, 240_000);

  test('two deploys of name:r count:6 from two templates: the second is refused; the six VMs of the first are whole', async (t) => {
    const store = start(t);
    const base = env.vmName('r');
    const deploy = (template: string): EnqueueRequest => ({
      kind: 'deploy',
      payload: { host: 'local', template, name: base, mode: 'thin', count: 6, start: false },
      requester: alice,
      notify,
    });
    const first = store.enqueue(deploy('t-a'));
    assert.throws(
      () => store.enqueue(deploy('t-b')),
      (e: unknown) => isKvmopsError(e, 'name-taken') && e.details.jobId === first.id && new RegExp(`job ${first.id}`).test(e.message),
    );
    const end = await ended(store, first.id);
    assert.equal(end.state, 'succeeded', JSON.stringify(end.error));
    assert.equal(store.list().length, 1, 'the refused deploy never became a job');
    for (const vm of deployNames(base, 6)) {
      assert.ok(domainExists(vm), vm);
      assert.ok(hasPattern(vdaOf(vm), 0xa1), `${vm} reads template t-a's data`);
    }
  });

  test('two template creates of one name from two VMs: the second is refused; the template is the first VM', async (t) => {
    const store = start(t);
    const create = (vm: string): EnqueueRequest => ({
      kind: 'template.create',
      payload: { host: 'local', vm, name: 'golden', seal: false },
      requester: alice,
      notify,
    });
    const first = store.enqueue(create(src.a));
    assert.throws(() => store.enqueue(create(src.b)), (e: unknown) => isKvmopsError(e, 'name-taken') && e.details.jobId === first.id);
    const end = await ended(store, first.id);
    assert.equal(end.state, 'succeeded', JSON.stringify(end.error));
    const golden = (await hv.host('local').listTemplates()).find((x) => x.name === 'golden');
    assert.ok(golden, 'the template exists');
    const vm = env.vmName('from-golden');
    const dep = store.enqueue({
      kind: 'deploy',
      payload: { host: 'local', template: 'golden', name: vm, mode: 'clone', count: 1, start: false },
      requester: alice,
      notify,
    });
    assert.equal((await ended(store, dep.id)).state, 'succeeded');
    assert.ok(hasPattern(vdaOf(vm), 0xa1), "the template holds the first VM's data");
  });

  test('deploys of other names from one template run side by side (they only read it)', async (t) => {
    const store = start(t);
    const names = [env.vmName('p'), env.vmName('q')];
    const jobs = names.map((name) =>
      store.enqueue({ kind: 'deploy', payload: { host: 'local', template: 't-b', name, mode: 'thin', count: 1, start: false }, requester: alice, notify }),
    );
    const [a, b] = await Promise.all(jobs.map((j) => ended(store, j.id)));
    assert.equal(a!.state, 'succeeded');
    assert.equal(b!.state, 'succeeded');
    // Under the old template lock the second started only after the first had finished.
    assert.ok(b!.startedAt! < a!.finishedAt!, `the second started (${b!.startedAt}) before the first finished (${a!.finishedAt})`);
    for (const vm of names) assert.ok(hasPattern(vdaOf(vm), 0xb2), vm);
  });
});
