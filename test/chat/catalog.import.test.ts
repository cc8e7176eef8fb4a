/**
 * While a host's first import runs, chat answers say so instead of answering as if the inventory
 * were complete — and template answers are right early, since a pass reads templates first.
 *
 * Real parts: the job store and the inventory on one SQLite file, the real Reconciler, Services,
 * router and commands. The host is an inventory reader whose domain reads wait for the test (an
 * import of 250 domains held at "0 / 250"); its list methods (the old host scans) are absent,
 * so an answer that scanned the host would fail.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inventoryPort } from '../../src/app.js';
import { loadCommands } from '../../commands/index.js';
import { CommandRouter } from '../../src/chat/router.js';
import { createServices } from '../../src/chat/services.js';
import type { RawOptions } from '../../src/chat/types.js';
import { silentLogger } from '../../src/domain/logger.js';
import type { InventoryReader, InventoryTemplate, ListedVm } from '../../src/hypervisor/types.js';
import { Reconciler } from '../../src/inventory/reconcile.js';
import { InventoryStore } from '../../src/inventory/store.js';
import { openJobStore } from '../../src/jobs/store.js';
import { PLACE, USERS } from '../commands/fixture.js';
import { namesOnlyHypervisor, waitFor } from '../worker/helpers.js';

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

test('during a first import: template answers are right at once; refusals and /template list say "inventory: importing n / N"', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmops-import-answers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openJobStore(join(dir, 'kvmops.db'));
  t.after(() => store.close());
  const inventory = new InventoryStore(store.db);

  const listed: ListedVm[] = Array.from({ length: 250 }, (_, i) => ({ uuid: uuid(i), name: `vm${i}`, state: 'shut off' }));
  const golden: InventoryTemplate = { name: 'golden', sourceVm: 'src', sealed: true, cloudInit: 'unknown', createdAt: '2026-01-02T03:04:05.000Z', disks: [], size: 0 };
  const waiting: Array<() => void> = [];
  let listings = 0;
  let hold = true;
  const reader: InventoryReader = {
    listDomainStates: async () => listed,
    listing: async () => (listings++, { vms: listed, templates: ['golden'] }),
    readVms: (refs) =>
      new Promise((r) => {
        const read = () => r(refs.map((x) => ({ ...x, state: 'shut off' as const, disks: [], snapshots: [] })));
        if (hold) waiting.push(read);
        else read();
      }),
    readTemplates: async (names) => (names.includes('golden') ? [golden] : []),
  };
  const hypervisor = namesOnlyHypervisor(['local'], { inventory: reader });
  const reconciler = new Reconciler({ hypervisor, store: inventory, everyMs: 1e9, batch: 100, logger: silentLogger });
  const services = createServices({ store, hypervisor, inventory: inventoryPort(inventory, reconciler), config: { twoPerson: true, approvalTtlMs: 60_000, guildId: null }, importPatienceMs: 50 });
  const router = new CommandRouter({ commands: loadCommands(), services });
  const run = (command: string, subcommand: string | null, options: RawOptions, u = USERS.alice) => router.handle({ command, subcommand, options, user: u, place: PLACE });
  const complete = (command: string, subcommand: string | null, focused: string, value: string) =>
    router.complete({ command, subcommand, options: {}, focused, value, user: USERS.erin, place: PLACE }).then((cs) => cs.map((c) => c.value));

  const pass = reconciler.reconcileNow();
  // the import is under way: templates read, the domains' first batch waiting for the test
  await waitFor('the first batch', () => waiting.length === 1);
  assert.deepEqual(services.inventory!.status('local').importing, { done: 0, total: 250 });

  // templates are known first: autocomplete offers golden, and /deploy of it is accepted
  assert.deepEqual(await complete('deploy', null, 'template', 'g'), ['golden']);
  const deploy = await run('deploy', null, { template: 'golden', name: 'fresh' });
  assert.equal(deploy.code, undefined, JSON.stringify(deploy));
  const job = store.get(deploy.jobId!)!;
  assert.equal(job.payload.templateCreatedAt, golden.createdAt, 'the pin is the inventory\'s');

  // a template or VM not known yet is refused after a short wait (not the whole import), saying why
  const t0 = Date.now();
  const noTemplate = await run('deploy', null, { template: 'silver', name: 'other' });
  assert.ok(Date.now() - t0 >= 45, 'it waited for the import a little');
  assert.equal(noTemplate.code, 'template-not-found');
  assert.match(noTemplate.lines.join('\n'), /inventory: importing 0 \/ 250 domains/);
  const noVm = await run('vm', 'start', { vm: 'vm7' });
  assert.equal(noVm.code, 'vm-not-found');
  assert.match(noVm.lines.join('\n'), /inventory: importing 0 \/ 250 domains: it may not be known yet/);
  const list = await run('template', 'list', {}, USERS.carol);
  assert.match(list.lines[0]!, /^inventory: importing 0 \/ 250 domains: the list may be incomplete/);
  assert.match(list.lines.join('\n'), /golden/);
  assert.equal(listings, 1, 'the passes the refusals asked for wait behind the import');

  await waitFor('batch 1', () => waiting.length === 1 && (waiting.shift()!(), true));
  await waitFor('the progress', () => services.inventory!.status('local').importing?.done === 100);
  assert.match((await run('vm', 'start', { vm: 'vm200' })).lines.join('\n'), /importing 100 \/ 250/);
  await waitFor('batch 2', () => waiting.length === 1 && (waiting.shift()!(), true));
  await waitFor('batch 3', () => waiting.length === 1 && (waiting.shift()!(), true));
  hold = false; // the pass after the import re-reads a few rows: at once
  await pass;
  await services.inventory!.refresh('local');

  // imported: the VM is known, and the lists carry no note
  const started = await run('vm', 'start', { vm: 'vm7' });
  assert.equal(started.code, undefined, JSON.stringify(started));
  assert.equal(store.get(started.jobId!)!.payload.vmUuid, uuid(7));
  assert.doesNotMatch((await run('template', 'list', {}, USERS.carol)).lines.join('\n'), /importing/);

  // once imported, a refusal rests on a fresh pass — one cheap diff for ten people asking at once
  const before = listings;
  const refusals = await Promise.all(Array.from({ length: 10 }, (_, i) => run('deploy', null, { template: 'silver', name: `n${i}` })));
  for (const r of refusals) {
    assert.equal(r.code, 'template-not-found');
    assert.doesNotMatch(r.lines.join('\n'), /importing/);
  }
  assert.equal(listings - before, 1, 'ten refusals, one reconcile pass');
});

test('right after the first start, template autocomplete waits for the import to list the host and read its templates (not for the domains)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmops-import-complete-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = openJobStore(join(dir, 'kvmops.db'));
  t.after(() => store.close());
  const inventory = new InventoryStore(store.db);
  const golden: InventoryTemplate = { name: 'golden', sourceVm: 'src', sealed: true, cloudInit: 'unknown', createdAt: '2026-01-02T03:04:05.000Z', disks: [], size: 0 };
  let openListing!: () => void;
  const readsHeld: Array<() => void> = [];
  const listed: ListedVm[] = [{ uuid: uuid(1), name: 'vm1', state: 'running' }];
  const reader: InventoryReader = {
    listDomainStates: async () => listed,
    listing: () => new Promise((r) => (openListing = () => r({ vms: listed, templates: ['golden'] }))),
    // the domains are never read while the test looks: the import stays at 0 / 1
    readVms: (refs) => new Promise((r) => readsHeld.push(() => r(refs.map((x) => ({ ...x, state: 'running' as const, disks: [], snapshots: [] }))))),
    readTemplates: async () => [golden],
  };
  const hypervisor = namesOnlyHypervisor(['local'], { inventory: reader });
  const reconciler = new Reconciler({ hypervisor, store: inventory, everyMs: 1e9, logger: silentLogger });
  const services = createServices({ store, hypervisor, inventory: inventoryPort(inventory, reconciler), config: { twoPerson: true, approvalTtlMs: 60_000, guildId: null } });
  const router = new CommandRouter({ commands: loadCommands(), services });
  const pass = reconciler.reconcileNow();
  await waitFor('the import to start', () => services.inventory!.status('local').importing !== null);
  const choices = router.complete({ command: 'deploy', subcommand: null, options: {}, focused: 'template', value: '', user: USERS.alice, place: PLACE });
  await new Promise((r) => setTimeout(r, 100));
  openListing();
  assert.deepEqual((await choices).map((c) => c.value), ['golden']);
  assert.deepEqual(services.inventory!.status('local').importing, { done: 0, total: 1 }, 'answered before the domains were read');
  await waitFor('the read', () => readsHeld.length === 1 && (readsHeld.shift()!(), true));
  await pass;
});
