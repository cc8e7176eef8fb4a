import assert from 'node:assert/strict';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { isKvmopsError } from '../../src/domain/errors.js';
import { silentLogger } from '../../src/domain/logger.js';
import type { InventoryReader, InventoryVm } from '../../src/hypervisor/types.js';
import { REFERRERS_SQL } from '../../src/inventory/read.js';
import { Reconciler } from '../../src/inventory/reconcile.js';
import { inventoryReferrers } from '../../src/inventory/referrers.js';
import { InventoryStore } from '../../src/inventory/store.js';
import { MIGRATIONS, migrate } from '../../src/jobs/migrations/index.js';
import { openJobStore } from '../../src/jobs/store.js';
import { namesOnlyHypervisor } from '../worker/helpers.js';

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const disk = (file: string, chain: string[], extra: Partial<InventoryVm['disks'][number]> = {}) => ({ target: 'vda', file, format: 'qcow2', chain, template: null, ...extra });
const vm = (i: number, disks: InventoryVm['disks'], more: Partial<InventoryVm> = {}): InventoryVm => ({ uuid: uuid(i), name: `vm${i}`, state: 'shut off', disks, snapshots: [], ...more });

/** A host in memory: what it lists and what a read of a domain gives, changed by the test "behind kvmops' back". */
function fakeHost() {
  const vms = new Map<string, InventoryVm>();
  let others: Array<{ uuid: string; name: string }> = [];
  let down = false;
  const reads: string[] = [];
  const templateReads: string[] = [];
  const reader: InventoryReader = {
    listDomainStates: async () => [...vms.values()].map((v) => ({ uuid: v.uuid, name: v.name, state: v.state })),
    listing: async () => {
      if (down) throw new Error('failed to connect to the hypervisor');
      return { vms: [...vms.values()].map((v) => ({ uuid: v.uuid, name: v.name, state: v.state, blocks: JSON.stringify(v.disks) })), templates: ['t'], others };
    },
    readVms: async (refs) => {
      reads.push(...refs.map((r) => r.name));
      return refs.flatMap((r) => (vms.has(r.uuid) ? [vms.get(r.uuid)!] : []));
    },
    readTemplates: async (names) => {
      templateReads.push(...names);
      return names.map((name) => ({ name, sourceVm: 'src', sealed: false, cloudInit: 'unknown' as const, createdAt: '2026-12-07T00:00:00.000Z', disks: [], size: 0 }));
    },
  };
  return {
    templateReads,
    vms,
    reads,
    reader,
    setOthers: (o: typeof others) => void (others = o),
    setDown: (d: boolean) => void (down = d),
  };
}

function rig() {
  const store = openJobStore(':memory:');
  const inv = new InventoryStore(store.db);
  const host = fakeHost();
  const reconciler = new Reconciler({ hypervisor: namesOnlyHypervisor(['local'], { inventory: host.reader }), store: inv, everyMs: 1e9, logger: silentLogger });
  return { store, inv, host, reconciler, referrers: inventoryReferrers(reconciler, inv) };
}

test('the candidates: domains whose chains (or snapshots, or persistent definition) name a file, the unreadable, the stale, the non-VM domains — after a fresh diff', async () => {
  const { inv, host, reconciler, referrers } = rig();
  host.vms.set(uuid(1), vm(1, [disk('/s/vms/a.qcow2', ['/s/vms/a.qcow2', '/s/templates/t--vda.qcow2'])]));
  host.vms.set(uuid(2), vm(2, [disk('/o/b.qcow2', ['/o/b.qcow2'])]));
  // its current disk is unrelated; a snapshot recorded one on the file (`uses`)
  host.vms.set(uuid(3), vm(3, [disk('/o/c.qcow2', ['/o/c.qcow2'])], { uses: ['/o/c.qcow2', '/o/c-old.qcow2', '/s/vms/a.qcow2'] }));
  host.vms.set(uuid(4), vm(4, [disk('/o/d.qcow2', [], { unreadable: 'qemu-img: could not open' })]));
  for (let i = 10; i < 40; i++) host.vms.set(uuid(i), vm(i, [disk(`/o/x${i}.qcow2`, [`/o/x${i}.qcow2`])]));
  host.setOthers([{ uuid: uuid(99), name: 'guestfs-abc' }]);
  await reconciler.refresh('local'); // the import

  const names = async (files: string[]) => (await referrers('local', files, {}))!.domains.map((d) => d.name);
  assert.deepEqual(await names(['/s/vms/a.qcow2']), ['vm1', 'vm3', 'vm4', 'guestfs-abc']);
  assert.deepEqual(await names(['/s/templates/t--vda.qcow2']), ['vm1', 'vm4', 'guestfs-abc']);
  assert.deepEqual(await names(['/o/b.qcow2']), ['vm2', 'vm4', 'guestfs-abc']);
  assert.deepEqual(await names(['/nowhere']), ['vm4', 'guestfs-abc']);

  // behind kvmops' back, with no reconcile: a new child of the template, vm2 redefined onto it
  host.vms.set(uuid(5), vm(5, [disk('/o/e.qcow2', ['/o/e.qcow2', '/s/templates/t--vda.qcow2'])]));
  host.vms.set(uuid(2), vm(2, [disk('/o/b2.qcow2', ['/o/b2.qcow2', '/s/templates/t--vda.qcow2'])]));
  host.setOthers([]);
  host.reads.length = 0;
  host.templateReads.length = 0;
  assert.deepEqual(await names(['/s/templates/t--vda.qcow2']), ['vm1', 'vm2', 'vm4', 'vm5']);
  assert.deepEqual(host.reads.sort(), ['vm2', 'vm5'], 'the fresh diff read only what changed (no rotation)');
  assert.deepEqual(host.templateReads, [], 'nor the template seen longest ago');
  await reconciler.pass('local'); // a timer's pass rotates both
  assert.deepEqual(host.templateReads, ['t']);
  assert.ok(host.reads.length > 2);

  // a VM a job marked stale is a candidate for every file until a pass reads it
  inv.write([{ type: 'vm-stale', host: 'local', uuid: uuid(20) }], Date.now());
  assert.ok(inv.reads.referrers('local', ['/nowhere']).some((d) => d.name === 'vm20'));
  assert.ok(!(await names(['/nowhere'])).includes('vm20'), 'the pass before the answer read it again');

  // gone from the host: no longer a candidate
  host.vms.delete(uuid(1));
  assert.deepEqual(await names(['/s/vms/a.qcow2']), ['vm3', 'vm4']);
});

test('no fresh answer (not imported yet, host down) → null: the step reads the whole host; a cancelled job stops waiting: aborted', async () => {
  const { host, referrers, reconciler } = rig();
  host.vms.set(uuid(1), vm(1, [disk('/a', ['/a'])]));
  assert.equal(await referrers('local', ['/a'], {}), null, 'not imported yet: no waiting for the import');
  assert.deepEqual(host.reads, [], 'and no import started by the question');
  await reconciler.refresh('local');
  host.setDown(true);
  assert.equal(await referrers('local', ['/a'], {}), null);
  host.setDown(false);
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(referrers('local', ['/a'], { signal: ac.signal }), (e: unknown) => isKvmopsError(e, 'aborted'));
  assert.deepEqual((await referrers('local', ['/a'], {}))?.domains.map((d) => d.name), ['vm1']);
});

test('the candidate query reads indexes bounded by the matches, never every VM of the host', () => {
  const { store } = rig();
  const plan = (store.db.prepare(`EXPLAIN QUERY PLAN ${REFERRERS_SQL}`).all({ host: 'local', files: '["/a"]' }) as Array<{ detail: string }>).map((r) => r.detail);
  const reads = plan.filter((d) => /^(SCAN|SEARCH) /.test(d) && !/json_each/.test(d));
  assert.deepEqual(
    reads,
    [
      'SEARCH f USING PRIMARY KEY (host=? AND file=?)',
      'SEARCH v USING PRIMARY KEY (host=? AND uuid=?)',
      'SEARCH d USING INDEX inventory_vm_disks_unreadable (host=?)',
      'SEARCH v USING PRIMARY KEY (host=? AND uuid=?)',
      'SEARCH inventory_vms USING INDEX inventory_vms_read (host=? AND stale=?)',
    ],
    plan.join('\n'),
  );
});

test('migration 008: existing rows get their files from the chains and snapshots 006 kept, and every VM is read again', () => {
  const db = new BetterSqlite3(':memory:');
  migrate(db, MIGRATIONS.slice(0, 7));
  db.prepare("INSERT INTO inventory_vms (host, uuid, name, state, read_at) VALUES ('local', ?, 'a', 'shut off', 1)").run(uuid(1));
  db.prepare(
    "INSERT INTO inventory_vm_disks (host, vm_uuid, target, file, format, chain, template) VALUES ('local', ?, 'vda', '/v/a.qcow2', 'qcow2', '[\"/v/a.qcow2\",\"/t/base.qcow2\"]', 't')",
  ).run(uuid(1));
  db.prepare("INSERT INTO inventory_snapshots (host, vm_uuid, name, kind, created_at, files) VALUES ('local', ?, 's1', 'external', 5, '[\"/v/a-base.qcow2\"]')").run(uuid(1));
  migrate(db);
  const files = (db.prepare('SELECT file FROM inventory_vm_files ORDER BY file').all() as Array<{ file: string }>).map((r) => r.file);
  assert.deepEqual(files, ['/t/base.qcow2', '/v/a-base.qcow2', '/v/a.qcow2']);
  assert.equal((db.prepare('SELECT stale FROM inventory_vms').get() as { stale: number }).stale, 1);
});
