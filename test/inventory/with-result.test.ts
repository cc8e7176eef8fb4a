import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isKvmopsError } from '../../src/domain/errors.js';
import { silentLogger } from '../../src/domain/logger.js';
import type { InventoryVm } from '../../src/hypervisor/types.js';
import { InventoryStore } from '../../src/inventory/store.js';
import { openJobStore } from '../../src/jobs/store.js';
import type { ExecutorContext } from '../../src/kinds/index.js';
import { Worker } from '../../src/worker/worker.js';
import { holdWriteLock } from '../jobs/db-lock.js';
import { freshStore, openStore, tempDbFile, vmStart } from '../jobs/helpers.js';
import { allExecutors, deferrals, namesOnlyHypervisor, sleep, waitFor } from '../worker/helpers.js';

/**
 * A job's inventory rows and its result are written in ONE transaction (src/jobs/complete.ts
 * `along`, src/worker/worker.ts): there is no moment, and no failure, after which one is there
 * and the other is not.
 */

const UUID = '0f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b';
const vm = (name: string): InventoryVm => ({
  uuid: UUID,
  name,
  state: 'running',
  disks: [{ target: 'vda', file: '/s/vms/x.qcow2', format: 'qcow2', chain: ['/s/vms/x.qcow2', '/s/templates/golden--vda.qcow2'], template: 'golden' }],
  snapshots: [{ name: 'before', kind: 'internal', parent: null, createdAt: 1_765_000_000, files: [] }],
});

/** An executor that "starts" the VM and reports it, as the real kinds do through their `inventory`. */
const reporting = async (_p: unknown, ctx: ExecutorContext) => {
  ctx.reportInventory({ type: 'vm', host: 'local', vm: vm('web') });
  return { vm: 'web', state: 'running' };
};

test('a succeeded job has its inventory rows: written by its completion', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  const inventory = new InventoryStore(store.db);
  const worker = new Worker({ store, hypervisor: namesOnlyHypervisor(), executors: allExecutors(reporting), inventory: inventory.write, logger: silentLogger });
  defer(() => worker.stop());
  const job = store.enqueue(vmStart('web'));
  worker.start();
  await waitFor('the job to succeed', () => store.get(job.id)?.state === 'succeeded');
  const row = inventory.reads.vm('local', UUID);
  assert.equal(row?.name, 'web');
  assert.deepEqual(row?.disks.map((d) => [d.target, d.template]), [['vda', 'golden']]);
  assert.deepEqual(row?.snapshots.map((s) => s.name), ['before']);
  assert.deepEqual(inventory.reads.dependentsOf('local', 'golden'), ['web']);
});

test("while another process holds the write lock, neither the result nor the rows are written; after the release, both", async (t) => {
  const defer = deferrals(t);
  const file = tempDbFile(t);
  const store = openStore(t, file);
  const inventory = new InventoryStore(store.db);
  let locked!: () => void;
  const lockTaken = new Promise<void>((r) => (locked = r));
  let lock: Awaited<ReturnType<typeof holdWriteLock>> | undefined;
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    executors: allExecutors(async (p: unknown, ctx: ExecutorContext) => {
      lock = await holdWriteLock(file, t);
      locked();
      return reporting(p, ctx);
    }),
    inventory: inventory.write,
    logger: silentLogger,
    leaseMs: 5_000,
  });
  defer(() => worker.stop());
  const job = store.enqueue(vmStart('web'));
  worker.start();
  await lockTaken;
  // the worker has tried (and keeps trying) to complete meanwhile
  await sleep(400);
  assert.equal(store.get(job.id)?.state, 'running');
  assert.equal(inventory.reads.vm('local', UUID), undefined);
  await lock!.release();
  await waitFor('the job to succeed', () => store.get(job.id)?.state === 'succeeded');
  assert.equal(inventory.reads.vm('local', UUID)?.name, 'web');
});

test('a completion refused (lease lost) writes no rows; rows that fail to write undo the completion', (t) => {
  const store = freshStore(t);
  const inventory = new InventoryStore(store.db);
  store.enqueue(vmStart('web'));
  const claimed = store.claim('w1', 60_000)!;
  let ran = false;
  assert.throws(
    () => store.complete({ ...claimed.lease, token: claimed.lease.token + 1 }, { ok: true }, (now) => {
      ran = true;
      inventory.write([{ type: 'vm', host: 'local', vm: vm('web') }], now);
    }),
    (e) => isKvmopsError(e, 'lease-lost'),
  );
  assert.equal(ran, false);
  assert.equal(inventory.reads.vm('local', UUID), undefined);

  assert.throws(() =>
    store.complete(claimed.lease, { ok: true }, (now) => {
      inventory.write([{ type: 'vm', host: 'local', vm: vm('web') }], now);
      throw new Error('the rows could not be written');
    }),
  );
  assert.equal(store.get(claimed.job.id)?.state, 'running');
  assert.equal(inventory.reads.vm('local', UUID), undefined);
});

test('a process killed inside the completion, after both were written but before the commit, leaves neither', async (t) => {
  const file = tempDbFile(t);
  const setup = openJobStore(file);
  const job = setup.enqueue(vmStart('web'));
  setup.close();
  const script = fileURLToPath(new URL('./fixtures/crash-mid-completion.ts', import.meta.url));
  const { signal, out } = await new Promise<{ signal: NodeJS.Signals | null; out: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (_code, sig) => resolve({ signal: sig, out }));
  });
  assert.equal(signal, 'SIGKILL');
  assert.match(out, new RegExp(`"claimed":${job.id}`));
  const store = openStore(t, file);
  const inventory = new InventoryStore(store.db);
  assert.equal(store.get(job.id)?.state, 'running', 'the claim committed; the completion did not');
  assert.deepEqual(inventory.reads.vms('local'), []);
});

test('rows the inventory cannot take do not hold the result hostage: the job succeeds, written alone', async (t) => {
  const defer = deferrals(t);
  const store = freshStore(t);
  const errors: string[] = [];
  const worker = new Worker({
    store,
    hypervisor: namesOnlyHypervisor(),
    executors: allExecutors(reporting),
    inventory: () => {
      throw new Error('a broken inventory');
    },
    logger: { ...silentLogger, error: (_o, msg) => void errors.push(msg ?? '') },
  });
  defer(() => worker.stop());
  const job = store.enqueue(vmStart('web'));
  worker.start();
  await waitFor('the job to succeed', () => store.get(job.id)?.state === 'succeeded');
  assert.equal(store.get(job.id)?.attempts, 1, 'not run again');
  assert.ok(errors.some((m) => /inventory rows could not be written/.test(m)));
});
