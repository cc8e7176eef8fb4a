import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createCore } from '../../src/app.js';
import { loadEnv } from '../../src/config/env.js';
import { silentLogger } from '../../src/domain/logger.js';
import type { HostListing, InventoryReader } from '../../src/hypervisor/types.js';
import { Reconciler } from '../../src/inventory/reconcile.js';
import { namesOnlyHypervisor } from '../worker/helpers.js';

// A host whose listings wait for the test: how many passes ran, and whether two ever overlapped.
function gatedHost() {
  const gates: Array<() => void> = [];
  let listings = 0;
  let inFlight = 0;
  let overlapped = false;
  const reader: InventoryReader = {
    listDomainStates: async () => [],
    listing: () =>
      new Promise<HostListing>((resolve) => {
        listings++;
        inFlight++;
        if (inFlight > 1) overlapped = true;
        gates.push(() => {
          inFlight--;
          resolve({ vms: [], templates: [] });
        });
      }),
    readVms: async () => [],
    readTemplates: async () => [],
  };
  const open = async () => {
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    gates.shift()!();
  };
  return { reader, open, listings: () => listings, overlapped: () => overlapped };
}

test('refresh: a pass that starts after the call; callers waiting together share one; passes over a host never overlap', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvmops-refresh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const core = createCore(loadEnv({ KVMOPS_DB: join(dir, 'kvmops.db'), KVMOPS_HOSTS: 'local=qemu:///system', KVMOPS_LOG_LEVEL: 'silent' }), { guildId: null });
  t.after(() => core.store.close());
  const host = gatedHost();
  const r = new Reconciler({ hypervisor: namesOnlyHypervisor(['local'], { inventory: host.reader }), store: core.inventory, everyMs: 1e9, logger: silentLogger });

  const first = r.refresh('local');
  await new Promise((res) => setImmediate(res));
  assert.equal(host.listings(), 1, 'the first refresh starts at once');
  // asked while the first runs: it could have listed the host before these callers asked, so
  // they get a new pass — one for all ten
  const later = Array.from({ length: 10 }, () => r.refresh('local'));
  const viaPass = r.pass('local');
  await new Promise((res) => setImmediate(res));
  assert.equal(host.listings(), 1, 'the next pass waits for the running one');
  await host.open();
  await first;
  await host.open();
  const results = await Promise.all([...later, viaPass]);
  assert.equal(host.listings(), 2, 'eleven callers, one more pass');
  assert.ok(results.every((x) => x === results[0]));
  assert.equal(host.overlapped(), false);

  // nothing waiting: the next refresh is a pass of its own
  const third = r.refresh('local');
  await host.open();
  await third;
  assert.equal(host.listings(), 3);
});
