import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { InventoryVm } from '../../src/hypervisor/types.js';
import { InventoryStore } from '../../src/inventory/store.js';
import { matchesFilter } from '../../src/domain/name-filter.js';
import { freshStore } from '../jobs/helpers.js';

/**
 * `/vm list`'s read (InventoryReads.vmPage): pages in name order with the total, and the filter
 * — a glob with `*` / `?` over the whole name, otherwise a case-insensitive substring — said the
 * same way in SQL and in memory (src/domain/name-filter.ts, for a list read from the host).
 */

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const vm = (i: number, name: string): InventoryVm => ({ uuid: uuid(i), name, state: i % 3 === 0 ? 'running' : 'shut off', disks: [], snapshots: [] });

const NAMES = ['web-01', 'web-02', 'Web-03', 'old-web', 'db-01', 'db-02', 'db-10', 'a.b', 'axb', 'x[1]y'];

test('3,000 VMs: 50 a page in name order, the total every time, another host apart', (t) => {
  const inv = new InventoryStore(freshStore(t).db);
  inv.write(Array.from({ length: 3000 }, (_, i) => ({ type: 'vm' as const, host: 'local', vm: vm(i, `vm-${String(2999 - i).padStart(4, '0')}`) })), 1);
  inv.write([{ type: 'vm', host: 'other', vm: vm(5000, 'elsewhere') }], 1);
  const first = inv.reads.vmPage('local', 0, 50);
  assert.equal(first.total, 3000);
  assert.deepEqual(first.vms.map((v) => v.name), Array.from({ length: 50 }, (_, i) => `vm-${String(i).padStart(4, '0')}`));
  const last = inv.reads.vmPage('local', 2950, 50);
  assert.equal(last.vms.at(-1)?.name, 'vm-2999');
  assert.deepEqual(inv.reads.vmPage('local', 3000, 50), { vms: [], total: 3000 });
  // every VM once over the pages
  const seen = new Set<string>();
  for (let o = 0; o < 3000; o += 50) for (const v of inv.reads.vmPage('local', o, 50).vms) seen.add(v.uuid);
  assert.equal(seen.size, 3000);
  assert.equal(inv.reads.vmPage('local', 0, 50, 'vm-29?5').total, 10);
  assert.equal(inv.reads.vmPage('other', 0, 50).total, 1);
});

test('the filter: substring (any case), glob (whole name, case-sensitive), `[` only itself; SQL and memory agree', (t) => {
  const inv = new InventoryStore(freshStore(t).db);
  inv.write(NAMES.map((n, i) => ({ type: 'vm' as const, host: 'local', vm: vm(i, n) })), 1);
  const names = (filter: string) => inv.reads.vmPage('local', 0, 50, filter).vms.map((v) => v.name);
  const cases: Array<[string, string[]]> = [
    ['web', ['Web-03', 'old-web', 'web-01', 'web-02']],
    ['WEB-0', ['Web-03', 'web-01', 'web-02']],
    ['web-*', ['web-01', 'web-02']],
    ['*web*', ['old-web', 'web-01', 'web-02']],
    ['db-0?', ['db-01', 'db-02']],
    ['db-?', []],
    ['a.b', ['a.b']], // a dot is a dot, not "any character"
    ['a?b', ['a.b', 'axb']],
    ['x[1]*', ['x[1]y']], // not a character class (names cannot hold `[` anyway)
    ['*', [...NAMES].sort()],
    ['zzz', []],
  ];
  for (const [filter, expected] of cases) {
    assert.deepEqual(names(filter), expected, `SQL: ${filter}`);
    assert.deepEqual(NAMES.filter(matchesFilter(filter)).sort(), [...expected].sort(), `memory: ${filter}`);
    assert.equal(inv.reads.vmPage('local', 0, 1, filter).total, expected.length, `total: ${filter}`);
  }
});
