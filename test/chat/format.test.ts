import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeJob, formatDuration, formatTime, jobLine, snapshotTree, inventoryVmLines, templateList, vmPageLines } from '../../src/chat/format.js';
import type { Job } from '../../src/jobs/types.js';
import type { SnapshotInfo } from '../../src/hypervisor/types.js';
import { splitPeople, withNames } from '../../src/chat/people.js';

const snap = (name: string, parent: string | null, createdAt: number, extra: Partial<SnapshotInfo> = {}): SnapshotInfo => ({
  name,
  parent,
  createdAt,
  kind: 'internal',
  files: [],
  current: false,
  description: '',
  state: 'running',
  ...extra,
});

describe('format', () => {
  it('durations', () => {
    assert.equal(formatDuration(950), '950ms');
    assert.equal(formatDuration(2_500), '2.5s');
    assert.equal(formatDuration(45_000), '45s');
    assert.equal(formatDuration(75_000), '1m 15s');
    assert.equal(formatDuration(30 * 60_000), '30m');
    assert.equal(formatDuration(3 * 3_600_000 + 2 * 60_000), '3h 2m');
    assert.equal(formatDuration(50 * 3_600_000), '2d 2h');
    assert.equal(formatDuration(-1), '?');
  });

  it('times in UTC', () => {
    assert.equal(formatTime(Date.UTC(2025, 4, 1, 14, 32, 59)), '2025-05-01 14:32 UTC');
  });

  it('snapshot tree: children indented under their parent, oldest first, current marked', () => {
    const lines = snapshotTree([
      snap('c2', 'base', 30),
      snap('base', null, 10, { state: 'shutoff' }),
      snap('c1', 'base', 20, { current: true, description: 'before upgrade' }),
      snap('g1', 'c1', 40, { kind: 'external', state: 'disk-snapshot' }),
      snap('orphan', 'missing', 50),
    ]);
    assert.deepEqual(lines, [
      'base (internal, shutoff)',
      '  c1 (internal, running) ← current — before upgrade',
      '    g1 (external, disk-snapshot)',
      '  c2 (internal, running)',
      'orphan (internal, running)',
    ]);
    assert.deepEqual(snapshotTree([]), ['(no snapshots)']);
  });

  it('a parent cycle in bad data does not loop', () => {
    assert.deepEqual(snapshotTree([snap('a', 'b', 1), snap('b', 'a', 2)]), []);
  });

  it('VM page, VM from the inventory and template list', () => {
    const vms = [
      { name: 'db', state: 'shut off' as const },
      { name: 'web-01', state: 'running' as const },
    ];
    assert.deepEqual(vmPageLines(vms, { offset: 0, total: 2 }), ['VM      STATE', 'db      shut off', 'web-01  running']);
    assert.deepEqual(vmPageLines(vms, { offset: 50, total: 1052 }).at(-1), 'showing 51–52 of 1,052');
    assert.deepEqual(vmPageLines([], { offset: 0, total: 0 }), ['(no VMs)']);
    assert.deepEqual(vmPageLines([], { offset: 0, total: 0 }, 'web-*'), ['(no VMs match "web-*")']);
    assert.deepEqual(vmPageLines([], { offset: 100, total: 60 }), ['(no VMs past 60: the list is shorter now)']);
    assert.deepEqual(
      inventoryVmLines({
        uuid: '00000000-0000-4000-8000-000000000001',
        name: 'web-01',
        state: 'running',
        disks: [
          { target: 'vda', file: '/s/vms/w.qcow2', format: 'qcow2', chain: ['/s/vms/w.qcow2', '/s/templates/base.qcow2'], template: 'base' },
          { target: 'vdb', file: '/x/data.qcow2', format: 'qcow2', chain: [], template: null, unreadable: 'Permission denied' },
        ],
        snapshots: [
          { name: 'b', kind: 'external', parent: 'a', createdAt: 2, files: ['/s/vms/w.qcow2'] },
          { name: 'a', kind: 'internal', parent: null, createdAt: 1, files: [] },
        ],
      }),
      [
        'state: running',
        'uuid: 00000000-0000-4000-8000-000000000001',
        'disk vda: /s/vms/w.qcow2 (qcow2) ← /s/templates/base.qcow2 — thin on template base',
        'disk vdb: /x/data.qcow2 (qcow2) — chain unknown: Permission denied',
        'snapshots:',
        '  a (internal)',
        '    b (external) — owns /s/vms/w.qcow2',
      ],
    );
    const t = templateList([
      { name: 'base', sourceVm: 'golden', sealed: true, cloudInit: 'yes', createdAt: '', disks: [{ target: 'vda', file: 'f', virtualSize: 1, actualSize: 2 * 1024 ** 3 }], dependents: ['a', 'b'] },
    ]);
    assert.match(t[0]!, /^TEMPLATE\s+FROM\s+SEALED\s+CLOUD-INIT\s+SIZE\s+THIN VMs$/);
    assert.match(t[1]!, /^base\s+golden\s+yes\s+yes\s+2\.0 GiB\s+2 \(a, b\)$/);
  });

  it('job line and description', () => {
    const job = {
      id: 7,
      kind: 'deploy',
      payload: { host: 'local', template: 'base', name: 'web', mode: 'thin', count: 4, start: false },
      state: 'running',
      progress: { step: 'copying', fraction: 0.25 },
      requester: { id: 'a', name: 'alice' },
      createdAt: 0,
      startedAt: 1_000,
      finishedAt: null,
    } as unknown as Job;
    assert.equal(describeJob(job), 'Deploy web ×4 (thin) from base on local');
    assert.equal(withNames(jobLine(job, 66_000)), '#7 running 25% · Deploy web ×4 (thin) from base on local · alice · 1m 5s');
    // The requester is marked as a person: Discord draws the id as a mention, not the name.
    assert.deepEqual(splitPeople(jobLine(job, 66_000)).filter((p) => typeof p !== 'string'), [{ id: 'a', name: 'alice' }]);
  });
});
