import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Catalog } from '../../src/chat/catalog.js';
import { InventoryHypervisor } from '../commands/fixture.js';

function setup() {
  const hv = new InventoryHypervisor(['a', 'b']);
  hv.inv('a').vms.set('v1', 'running');
  hv.inv('b').vms.set('w1', 'running');
  hv.inv('a').snapshots.set('v1', [{ name: 's', parent: null }]);
  let t = 0;
  const catalog = new Catalog(hv, { ttlMs: 10_000, now: () => t });
  return { hv, catalog, at: (ms: number) => (t = ms) };
}

describe('Catalog', () => {
  it('caches per host for the TTL, then reads again', async () => {
    const { hv, catalog, at } = setup();
    await catalog.vms('a');
    await catalog.vms('a');
    await catalog.vms('b');
    assert.deepEqual(hv.reads, ['a:listVms', 'b:listVms']);
    at(9_999);
    await catalog.vms('a');
    assert.equal(hv.reads.length, 2);
    at(10_000);
    await catalog.vms('a');
    assert.equal(hv.reads.length, 3);
  });

  it('fresh reads bypass and refresh the cache', async () => {
    const { hv, catalog } = setup();
    await catalog.vms('a');
    hv.inv('a').vms.set('v2', 'shut off');
    assert.equal((await catalog.vms('a')).length, 1);
    assert.equal((await catalog.vms('a', { fresh: true })).length, 2);
    assert.equal((await catalog.vms('a')).length, 2);
  });

  it('concurrent misses share one read', async () => {
    const { hv, catalog } = setup();
    await Promise.all([catalog.templates('a'), catalog.templates('a'), catalog.templates('a')]);
    assert.deepEqual(hv.reads, ['a:listTemplates']);
  });

  it('invalidate(host) drops only that host; invalidate() drops all', async () => {
    const { hv, catalog } = setup();
    await catalog.vms('a');
    await catalog.snapshots('a', 'v1');
    await catalog.vms('b');
    catalog.invalidate('a');
    await catalog.vms('a');
    await catalog.snapshots('a', 'v1');
    await catalog.vms('b');
    assert.deepEqual(hv.reads, ['a:listVms', 'a:listSnapshots', 'b:listVms', 'a:listVms', 'a:listSnapshots']);
    catalog.invalidate();
    await catalog.vms('b');
    assert.equal(hv.reads.at(-1), 'b:listVms');
  });

  it('does not cache failures', async () => {
    const { hv, catalog } = setup();
    hv.mode = 'unreachable';
    await assert.rejects(catalog.vms('a'), { code: 'host-unreachable' });
    hv.mode = 'ok';
    assert.equal((await catalog.vms('a')).length, 1);
  });

  it('hosts come from the configuration, the first is the default', () => {
    const { catalog } = setup();
    assert.deepEqual(catalog.hosts(), ['a', 'b']);
    assert.equal(catalog.defaultHost(), 'a');
  });
});
