import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../src/domain/logger.js';
import type { EventWatch, InventoryReader, InventoryVm, ListedVm } from '../../src/hypervisor/types.js';
import { Reconciler } from '../../src/inventory/reconcile.js';
import { InventoryStore } from '../../src/inventory/store.js';
import { freshStore } from '../jobs/helpers.js';
import { namesOnlyHypervisor, waitFor } from '../worker/helpers.js';

/**
 * Events are hints (reconcile.ts): a domain an event names is read whole in the next pass even
 * when the listing shows no change (a snapshot taken by hand of a running VM), once more in a
 * settling pass, and never otherwise; a burst shares one pass; a stream that starts again asks for
 * a pass; stop() ends the watch. A host double whose event stream the test drives.
 */

const U = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

test('an event: the named domain read in the next pass and a settling one; a burst shares a pass; stop ends the watch', async (t) => {
  const inv = new InventoryStore(freshStore(t).db);
  const listed: ListedVm[] = [0, 1, 2].map((i) => ({ uuid: U(i), name: `vm${i}`, state: 'running' }));
  const reads: string[][] = [];
  let listings = 0;
  let watch: EventWatch | null = null;
  let watchEnded = false;
  const reader: InventoryReader = {
    listDomainStates: async () => listed,
    listing: async () => {
      listings++;
      return { vms: listed, templates: [] };
    },
    readVms: async (refs) => {
      reads.push(refs.map((r) => r.name).sort());
      return refs.map((r): InventoryVm => ({ uuid: r.uuid, name: r.name, state: 'running', disks: [], snapshots: [] }));
    },
    readTemplates: async () => [],
    watchEvents: (w) =>
      new Promise<void>((resolve) => {
        watch = w;
        w.onStart?.(4242);
        w.signal.addEventListener('abort', () => {
          watchEnded = true;
          resolve();
        });
      }),
  };
  const reconciler = new Reconciler({
    hypervisor: namesOnlyHypervisor(['local'], { inventory: reader }),
    store: inv,
    everyMs: 3_600_000,
    rotate: 0,
    events: true,
    debounceMs: 30,
    settleMs: 150,
    logger: silentLogger,
  });
  reconciler.start();
  await waitFor('the import', () => inv.hostStatus('local').importedAt !== null);
  assert.deepEqual(reconciler.eventStream('local'), { pid: 4242, starts: 1, events: 0 });
  reads.length = 0;
  const listedBefore = listings;

  // nothing in the listing changed: only the events make vm1 and vm2 be read (a burst: one pass)
  const event = (domain: string) => watch!.onEvent({ at: null, type: 'lifecycle', domain, detail: 'Suspended Paused' });
  event('vm1');
  event('vm2');
  event('vm1');
  event('not-listed'); // a hint for a domain the listing does not show reads nothing
  await waitFor('the pass after the events', () => reads.length >= 1);
  assert.deepEqual(reads[0], ['vm1', 'vm2']);
  await waitFor('the settling pass', () => reads.length >= 2);
  assert.deepEqual(reads[1], ['vm1', 'vm2']);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(reads.length, 2, 'no third read without a new event');
  assert.equal(listings - listedBefore, 2, 'two passes, each listing the host first');

  await reconciler.stop();
  assert.equal(watchEnded, true, 'stop() aborts the watch and waits for it');
  event('vm0'); // a straggler after stop changes nothing
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(reads.length, 2);
});

test('a stream started again asks for a pass of its own (events were lost meanwhile)', async (t) => {
  const inv = new InventoryStore(freshStore(t).db);
  let listings = 0;
  let watch: EventWatch | null = null;
  const reader: InventoryReader = {
    listDomainStates: async () => [],
    listing: async () => {
      listings++;
      return { vms: [], templates: [] };
    },
    readVms: async () => [],
    readTemplates: async () => [],
    watchEvents: (w) => new Promise<void>((resolve) => ((watch = w), w.onStart?.(1), w.signal.addEventListener('abort', () => resolve()))),
  };
  const reconciler = new Reconciler({ hypervisor: namesOnlyHypervisor(['local'], { inventory: reader }), store: inv, everyMs: 3_600_000, events: true, debounceMs: 20, logger: silentLogger });
  t.after(() => reconciler.stop());
  reconciler.start();
  await waitFor('the import', () => inv.hostStatus('local').importedAt !== null);
  const before = listings;
  watch!.onEnd?.(null, 0);
  assert.equal(reconciler.eventStream('local')?.pid, null);
  watch!.onStart?.(2);
  await waitFor('a pass after the restart', () => listings > before);
  assert.deepEqual(reconciler.eventStream('local'), { pid: 2, starts: 2, events: 0 });
});
