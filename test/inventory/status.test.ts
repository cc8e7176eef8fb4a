import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createCore } from '../../src/app.js';
import { loadEnv } from '../../src/config/env.js';
import type { InventoryReader, ListedVm } from '../../src/hypervisor/types.js';
import { Reconciler } from '../../src/inventory/reconcile.js';
import { silentLogger } from '../../src/domain/logger.js';
import { namesOnlyHypervisor } from '../worker/helpers.js';

test('KVMOPS_RECONCILE: 60s by default, any duration', () => {
  assert.equal(loadEnv({}).KVMOPS_RECONCILE, 60_000);
  assert.equal(loadEnv({ KVMOPS_RECONCILE: '5m' }).KVMOPS_RECONCILE, 300_000);
  assert.throws(() => loadEnv({ KVMOPS_RECONCILE: 'soon' }));
});

test("the core's Services say where each host's inventory is: importing n / N, then imported", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmops-status-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const core = createCore(loadEnv({ KVMOPS_DB: join(dir, 'kvmops.db'), KVMOPS_HOSTS: 'local=qemu:///system', KVMOPS_LOG_LEVEL: 'silent' }), { guildId: null });
  t.after(() => core.store.close());
  const status = core.services.inventory!;
  assert.deepEqual(status.status('local'), { importing: null, importedAt: null, reconciledAt: null });

  // The core's reconciler on a host of 250 domains whose reads wait for the test: the import's
  // progress shows batch by batch through Services.
  const listed: ListedVm[] = Array.from({ length: 250 }, (_, i) => ({ uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, name: `vm${i}`, state: 'shut off' }));
  const waiting: Array<() => void> = [];
  const reader: InventoryReader = {
    listDomainStates: async () => listed,
    listing: async () => ({ vms: listed, templates: [] }),
    readVms: (refs) => new Promise((r) => waiting.push(() => r(refs.map((x) => ({ ...x, state: 'shut off' as const, disks: [], snapshots: [] }))))),
    readTemplates: async () => [],
  };
  const reconciler = new Reconciler({ hypervisor: namesOnlyHypervisor(['local'], { inventory: reader }), store: core.inventory, everyMs: 1e9, batch: 100, logger: silentLogger });
  const services = { status: (h: string) => ({ importing: reconciler.importing(h) ?? null, ...core.inventory.hostStatus(h) }) };
  const pass = reconciler.reconcileNow();
  const next = async () => {
    while (waiting.length === 0) await new Promise((r) => setImmediate(r));
    waiting.shift()!();
  };
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(services.status('local').importing, { done: 0, total: 250 });
  await next();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(services.status('local').importing, { done: 100, total: 250 });
  await next();
  await next();
  await pass;
  const after = services.status('local');
  assert.equal(after.importing, null);
  assert.notEqual(after.importedAt, null);
  assert.equal(core.inventory.reads.vmPage('local', 0, 10).total, 250);
  // the real Services read the same store
  assert.equal(status.status('local').importedAt, after.importedAt);
});
