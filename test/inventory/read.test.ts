import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InventoryStore } from '../../src/inventory/store.js';
import { freshStore } from '../jobs/helpers.js';

const uuid = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

test('autocomplete reads: names by prefix, ASCII case ignored, `_` and `%` taken literally, in name order, at most `limit`, per host', (t) => {
  const inv = new InventoryStore(freshStore(t).db);
  const names = ['web_1', 'webx1', 'Web-2', 'web%', 'db', 'WEB3'];
  inv.write(names.map((name, i) => ({ type: 'vm', host: 'local', vm: { uuid: uuid(i), name, state: 'shut off', disks: [], snapshots: [] } })), 100);
  inv.write([{ type: 'vm', host: 'other', vm: { uuid: uuid(9), name: 'web-far', state: 'running', disks: [], snapshots: [] } }], 100);
  assert.deepEqual(inv.reads.vmNames('local', 'web'), ['WEB3', 'Web-2', 'web%', 'web_1', 'webx1']);
  assert.deepEqual(inv.reads.vmNames('local', 'web_'), ['web_1'], '`_` is no wildcard');
  assert.deepEqual(inv.reads.vmNames('local', 'web%'), ['web%'], '`%` is no wildcard');
  assert.deepEqual(inv.reads.vmNames('local', 'WEB', 2), ['WEB3', 'Web-2']);
  assert.deepEqual(inv.reads.vmNames('local', ''), ['WEB3', 'Web-2', 'db', 'web%', 'web_1', 'webx1']);
  assert.deepEqual(inv.reads.vmNames('other', 'w'), ['web-far']);

  const tpl = (name: string) => ({ type: 'template' as const, host: 'local', template: { name, sourceVm: 's', sealed: false, cloudInit: 'unknown' as const, createdAt: '2026-12-07T10:00:00.000Z', disks: [], size: 0 } });
  inv.write([tpl('Golden'), tpl('gold_1'), tpl('silver')], 100);
  assert.deepEqual(inv.reads.templateNames('local', 'gOLD'), ['Golden', 'gold_1']);
  assert.deepEqual(inv.reads.templateNames('local', 'gold_'), ['gold_1']);
  assert.deepEqual(inv.reads.templateNames('other'), []);
});

test('a VM\'s snapshots by uuid, oldest first; none for a VM not known', (t) => {
  const inv = new InventoryStore(freshStore(t).db);
  const snap = (name: string, createdAt: number, parent: string | null = null) => ({ name, kind: 'internal' as const, parent, createdAt, files: [] });
  inv.write([{ type: 'vm', host: 'local', vm: { uuid: uuid(1), name: 'web', state: 'running', disks: [], snapshots: [snap('b', 20, 'a'), snap('a', 10)] } }], 100);
  assert.deepEqual(inv.reads.snapshotsOf('local', uuid(1)).map((s) => s.name), ['a', 'b']);
  assert.deepEqual(inv.reads.snapshotsOf('local', uuid(2)), []);
  assert.deepEqual(inv.reads.snapshotsOf('other', uuid(1)), []);
});
