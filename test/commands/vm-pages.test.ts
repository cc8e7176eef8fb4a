import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { InventoryPort } from '../../src/chat/services.js';
import type { InventoryVm } from '../../src/hypervisor/types.js';
import { InventoryStore } from '../../src/inventory/store.js';
import { PLACE, USERS, makeWorld, type World } from './fixture.js';

/**
 * `/vm list` and `/vm info` in the command layer: answered from the inventory (a real
 * InventoryStore on the world's database, no host read), paged by `Invocation.offset`, with the
 * import's progress said while it runs; `/vm info` of a name the inventory lacks waits for one
 * fresh pass before it says "no such VM". Without an inventory (some worlds) the host's list is
 * paged by the same rule.
 */

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const vm = (i: number, name: string): InventoryVm => ({ uuid: uuid(i), name, state: 'running', disks: [], snapshots: [] });

describe('/vm list and /vm info from the inventory', () => {
  let w: World;
  let inv: InventoryStore;
  let refreshes: number;
  let onRefresh: () => void;
  let importing: { done: number; total: number } | null;
  beforeEach(() => {
    w = makeWorld();
    inv = new InventoryStore(w.store.db);
    inv.write(Array.from({ length: 120 }, (_, i) => ({ type: 'vm' as const, host: 'local', vm: vm(i, `n${String(i).padStart(3, '0')}`) })), 1);
    inv.markReconciled('local', 1, true);
    refreshes = 0;
    onRefresh = () => {};
    importing = null;
    const port: InventoryPort = {
      status: (host) => ({ importing, ...inv.hostStatus(host) }),
      templates: (host) => inv.reads.templates(host),
      dependentsOf: (host, template) => inv.reads.dependentsOf(host, template),
      templateNames: (host, prefix, limit) => inv.reads.templateNames(host, prefix, limit),
      vmNames: (host, prefix, limit) => inv.reads.vmNames(host, prefix, limit),
      vmsNamed: (host, name) => inv.reads.vmsNamed(host, name).map(({ uuid, name: n, state }) => ({ uuid, name: n, state })),
      snapshots: (host, uuid) => inv.reads.snapshotsOf(host, uuid),
      vmCounts: (host) => inv.reads.vmCounts(host),
      vmPage: (host, p) => inv.reads.vmPage(host, p.offset, p.limit, p.filter),
      vmNamed: (host, name) => {
        const [known] = inv.reads.vmsNamed(host, name);
        return known && inv.reads.vm(host, known.uuid);
      },
      refresh: async () => {
        refreshes++;
        onRefresh();
      },
    };
    w.services.inventory = port;
    w.hv.reads.length = 0;
  });
  afterEach(() => w.close());

  const list = (options: Record<string, string>, offset?: number) =>
    w.router.handle({ command: 'vm', subcommand: 'list', options, user: USERS.carol, place: PLACE, ...(offset !== undefined ? { offset } : {}) });

  it('pages of 50 with the total, from the inventory alone', async () => {
    const first = await list({});
    assert.deepEqual(first.page, { offset: 0, limit: 50, total: 120 });
    assert.equal(first.lines.at(-1), 'showing 1–50 of 120');
    assert.ok(first.lines.includes('n000  running'));
    const third = await list({}, 100);
    assert.equal(third.lines.at(-1), 'showing 101–120 of 120');
    assert.deepEqual(third.page, { offset: 100, limit: 50, total: 120 });
    const filtered = await list({ filter: 'n11?' });
    assert.equal(filtered.title, 'VMs on local matching "n11?"');
    assert.equal(filtered.lines.length, 11, 'the header and n110 … n119, no "showing"');
    assert.deepEqual(w.hv.reads, [], 'no host read');
    // a bad offset from a forged click is the first page
    assert.equal((await list({}, -5)).page?.offset, 0);
  });

  it('says the import is under way while it runs', async () => {
    importing = { done: 1200, total: 3000 };
    inv.db.prepare('UPDATE inventory_hosts SET imported_at = NULL').run();
    const r = await list({});
    assert.equal(r.lines[0], 'inventory: importing 1,200 / 3,000 — VMs not read yet are missing here');
  });

  it('/vm info: a known VM at once; an unknown one after one fresh pass, found or refused', async () => {
    // its NICs and addresses are the one host read: for this VM only
    w.hv.inv('local').nics.set(uuid(7), [
      { mac: '52:54:00:7d:de:7a', type: 'network', network: 'kvmops-lab', addresses: [{ mac: '52:54:00:7d:de:7a', protocol: 'ipv4', address: '198.19.1.89', prefix: 24, source: 'lease' }] },
      { mac: '52:54:00:00:00:02', type: 'user', network: null, addresses: [] },
    ]);
    const known = await w.run(USERS.carol, 'vm', 'info', { vm: 'n007' });
    assert.deepEqual(known.lines, [
      'state: running',
      `uuid: ${uuid(7)}`,
      'disks: none',
      'snapshots: none',
      'nic 52:54:00:7d:de:7a (network kvmops-lab): 198.19.1.89/24 (lease)',
      "nic 52:54:00:00:00:02 (QEMU's user-mode network): no address known",
    ]);
    assert.deepEqual(w.hv.reads, ['local:vmNics']);
    w.hv.reads.length = 0;
    assert.equal(refreshes, 0);

    onRefresh = () => inv.write([{ type: 'vm', host: 'local', vm: vm(500, 'made-just-now') }], 2);
    const fresh = await w.run(USERS.carol, 'vm', 'info', { vm: 'made-just-now' });
    assert.equal(fresh.title, 'VM made-just-now on local');
    assert.equal(refreshes, 1);

    onRefresh = () => {};
    const missing = await w.run(USERS.carol, 'vm', 'info', { vm: 'nope' });
    assert.equal(missing.code, 'vm-not-found');
    assert.equal(refreshes, 2);
    assert.deepEqual(w.hv.reads, ['local:vmNics'], 'no host read but the found VM\'s NICs');
  });
});

describe('/vm list without an inventory: the host list paged by the same rule', () => {
  it('page 2 of 63, filtered in memory as in SQL', async () => {
    const w = makeWorld();
    try {
      for (let i = 0; i < 60; i++) w.hv.inv('local').vms.set(`m${String(i).padStart(2, '0')}`, 'shut off');
      const r = await w.router.handle({ command: 'vm', subcommand: 'list', options: {}, user: USERS.carol, place: PLACE, offset: 50 });
      assert.equal(r.lines.at(-1), 'showing 51–63 of 63');
      const g = await w.run(USERS.carol, 'vm', 'list', { filter: 'm0?' });
      assert.equal(g.lines.length, 11);
      assert.deepEqual(g.page, { offset: 0, limit: 50, total: 10 });
    } finally {
      w.close();
    }
  });
});
