import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDomstats, parseDomstatsBlocks } from '../../src/hypervisor/inventory.js';

test('domstats --block → one disk sign per domain, in libvirt order; no disk, an empty cdrom, odd names', () => {
  const out = [
    "Domain: 'web'",
    '  block.count=2',
    '  block.0.name=vda',
    '  block.0.path=/s/vms/a.qcow2',
    '  block.0.allocation=200704',
    '  block.1.name=hdc',
    '',
    "Domain: 'no disks'",
    '  block.count=0',
    '',
    "Domain: 'it's'",
    '  block.count=1',
    '  block.0.name=vdb',
    '  block.0.path=/x y/b.qcow2',
    '',
  ].join('\n');
  assert.deepEqual(
    [...parseDomstatsBlocks(out)],
    [
      ['web', 'vda=/s/vms/a.qcow2\nhdc='],
      ['no disks', ''],
      ["it's", 'vdb=/x y/b.qcow2'],
    ],
  );
});

test('domstats --state --block → each domain\'s state (libvirt\'s numbers as virsh names them) and disk sign; an unknown state is left for domstate', () => {
  const out = [
    "Domain: 'web'",
    '  state.state=1',
    '  state.reason=1',
    '  block.count=1',
    '  block.0.name=vda',
    '  block.0.path=/s/vms/a.qcow2',
    '',
    "Domain: 'off'",
    '  state.state=5',
    '  state.reason=0',
    '  block.count=0',
    '',
    "Domain: 'held'",
    '  state.state=3',
    '  state.reason=1',
    '  block.count=0',
    '',
    "Domain: 'odd'",
    '  state.state=0',
    '  block.count=0',
    '',
  ].join('\n');
  assert.deepEqual(
    [...parseDomstats(out)],
    [
      ['web', { state: 'running', blocks: 'vda=/s/vms/a.qcow2' }],
      ['off', { state: 'shut off', blocks: '' }],
      ['held', { state: 'paused', blocks: '' }],
      ['odd', { blocks: '' }],
    ],
  );
});
