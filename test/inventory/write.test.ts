import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/domain/logger.js';
import type { InventoryReader, InventoryVm, ListedVm } from '../../src/hypervisor/types.js';
import { Reconciler } from '../../src/inventory/reconcile.js';
import { InventoryStore } from '../../src/inventory/store.js';
import { freshStore } from '../jobs/helpers.js';
import { namesOnlyHypervisor } from '../worker/helpers.js';

const U1 = '0f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b';
const U2 = '1f8e4c2a-9b1d-4e7f-8a3c-5d6b7e8f9a0b';
const vm = (uuid: string, name: string, state: InventoryVm['state'] = 'shut off'): InventoryVm => ({ uuid, name, state, disks: [], snapshots: [] });

test('a write never undoes newer knowledge: older upserts and removals leave a newer row as it is', (t) => {
  const inv = new InventoryStore(freshStore(t).db);
  inv.write([{ type: 'vm', host: 'local', vm: vm(U1, 'web', 'running') }], 200);
  inv.write([{ type: 'vm', host: 'local', vm: vm(U1, 'old-name') }], 100);
  assert.equal(inv.reads.vm('local', U1)?.name, 'web');
  inv.write([{ type: 'vm-gone', host: 'local', uuid: U1 }], 100);
  assert.equal(inv.reads.vm('local', U1)?.state, 'running');
  inv.write([{ type: 'vm-state', host: 'local', uuid: U1, state: 'paused' }], 150);
  assert.equal(inv.reads.vm('local', U1)?.state, 'running');
  inv.write([{ type: 'vm-gone', host: 'local', uuid: U1 }], 300);
  assert.equal(inv.reads.vm('local', U1), undefined);

  const tpl = { name: 'golden', sourceVm: 'src', sealed: false, cloudInit: 'unknown' as const, createdAt: '2026-12-07T10:00:00.000Z', disks: [], size: 0 };
  inv.write([{ type: 'template', host: 'local', template: tpl }], 200);
  inv.write([{ type: 'template-gone', host: 'local', name: 'golden' }], 100);
  assert.deepEqual(inv.reads.templateNames('local'), ['golden']);
  inv.write([{ type: 'template-gone', host: 'local', name: 'golden' }], 201);
  assert.deepEqual(inv.reads.templateNames('local'), []);
});

test('jobs that finish while a reconcile reads the host: its late answers undo none of their rows', async (t) => {
  const inv = new InventoryStore(freshStore(t).db);
  let clock = 1_000;
  const now = () => clock;
  inv.write([{ type: 'vm', host: 'local', vm: vm(U1, 'db', 'paused') }], 500);
  inv.markReconciled('local', 500, true);
  const gate = <T>() => {
    let open!: (v: T) => void;
    const p = new Promise<T>((r) => (open = r));
    return { p, open };
  };
  const listing = gate<ListedVm[]>();
  const reading = gate<InventoryVm[]>();
  const reader: InventoryReader = {
    listDomainStates: () => listing.p,
    listing: async () => ({ vms: await listing.p, templates: [] }),
    readVms: () => reading.p,
    readTemplates: async () => [],
  };
  const hypervisor = namesOnlyHypervisor(['local'], { inventory: reader });
  const pass = new Reconciler({ hypervisor, store: inv, everyMs: 60_000, rotate: 0, logger: silentLogger, now }).reconcileNow();
  const tick = () => new Promise((r) => setImmediate(r));
  await tick();
  // the listing was taken at 1,000: U1 paused → running (changed), no U2 yet. Then a deploy
  // finishes at 2,000 and makes U2 — the listing answers only after that.
  clock = 2_000;
  inv.write([{ type: 'vm', host: 'local', vm: vm(U2, 'web') }], clock);
  clock = 2_500;
  listing.open([{ uuid: U1, name: 'db', state: 'running' }]);
  await tick();
  // U1 is being read (from 2,500); a stop finishes at 3,000; the read answers what it saw before
  clock = 3_000;
  inv.write([{ type: 'vm', host: 'local', vm: vm(U1, 'db', 'shut off') }], clock);
  reading.open([vm(U1, 'db', 'running')]);
  await pass;
  assert.equal(inv.reads.vm('local', U2)?.name, 'web', 'the deployed VM is not taken for gone');
  assert.equal(inv.reads.vm('local', U1)?.state, 'shut off', 'the stop is not undone');
});
