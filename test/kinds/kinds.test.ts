import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { defineKind } from '../../src/kinds/kind.js';
import { describeJob, JOB_KINDS, KINDS, KINDS_NEEDING_APPROVAL, kindOf, resultSummary } from '../../src/kinds/index.js';

/** The kind registry: one definition per kind, everything else derived from it. */

test('one definition per kind; the destructive ones need an approval', () => {
  assert.equal(new Set(JOB_KINDS).size, KINDS.length);
  assert.deepEqual([...KINDS_NEEDING_APPROVAL].sort(), ['snapshot.revert', 'vm.delete']);
  assert.throws(() => kindOf('vm.explode'), /unknown job kind/);
});

test('a kind without one of its parts does not compile', () => {
  const parts = {
    name: 'test.kind',
    payload: z.object({ host: z.string() }),
    needsApproval: false,
    resources: () => [],
    describe: () => 'a test',
    pinned: () => [],
    summary: () => undefined,
    recover: null,
    inventory: async () => [],
    execute: async () => null,
  };
  assert.ok(defineKind(parts));
  const { recover: _r, ...noRecover } = parts;
  // @ts-expect-error — a kind must say how a recovered attempt finds earlier work (or why not: null)
  defineKind(noRecover);
  const { describe: _d, ...noDescribe } = parts;
  // @ts-expect-error — a kind must describe itself
  defineKind(noDescribe);
  const { resources: _s, ...noResources } = parts;
  // @ts-expect-error — a kind must declare what it holds
  defineKind(noResources);
});

test('one description per job, the same words wherever it is shown', () => {
  const d = (kind: string, payload: Record<string, unknown>) => describeJob({ kind, payload: { host: 'local', ...payload } });
  assert.equal(d('deploy', { template: 'base', name: 'web', mode: 'thin', count: 4, start: false }), 'Deploy web ×4 (thin) from base on local');
  // one host's share of a placed deploy (/deploy host:auto): its own names
  assert.equal(d('deploy', { template: 'base', name: 'web', mode: 'thin', count: 2, first: 3, start: false }), 'Deploy web-03…web-04 (thin) from base on local');
  assert.equal(d('deploy', { template: 'base', name: 'web', mode: 'thin', count: 1, first: 3, start: false }), 'Deploy web-03 (thin) from base on local');
  assert.equal(d('template.create', { vm: 'src', name: 'golden', seal: true }), 'Create template golden from src (sealed) on local');
  assert.equal(d('template.delete', { name: 'golden' }), 'Delete template golden on local');
  assert.equal(d('snapshot.create', { vm: 'web', name: 's1', kind: 'external' }), 'Snapshot web as s1 (external) on local');
  assert.equal(d('snapshot.revert', { vm: 'web', name: 's1' }), 'Revert web to snapshot s1 on local');
  assert.equal(d('snapshot.delete', { vm: 'web', name: 's1' }), 'Delete snapshot s1 of web on local');
  assert.equal(d('vm.start', { vm: 'web' }), 'Start web on local');
  assert.equal(d('vm.stop', { vm: 'web', force: true }), 'Force-stop web on local');
  assert.equal(d('vm.delete', { vm: 'web' }), 'Delete VM web on local');
  assert.match(d('vm.start', { vm: 'bad name' }), /^vm\.start /, 'a stored payload that no longer parses is still described');
});

test('result summaries read stored results defensively', () => {
  assert.equal(resultSummary({ kind: 'deploy', result: { vms: ['a', 'b'], mode: 'thin', started: true } }), '2 VMs: a, b (thin, started)');
  assert.equal(resultSummary({ kind: 'snapshot.revert', result: { reverted: { vm: 'w', snapshot: 's' }, alreadyApplied: true } }), 'w is back at s (already applied by an earlier attempt)');
  assert.equal(resultSummary({ kind: 'vm.delete', result: { removed: ['x'], kept: ['y'], unreadable: ['z'] } }), 'deleted, 1 file(s) removed; 1 file(s) kept: a disk chain on the host could not be read');
  assert.equal(resultSummary({ kind: 'deploy', result: { surprise: 1 } }), '{"surprise":1}');
  assert.equal(resultSummary({ kind: 'vm.start', result: null }), undefined);
  assert.equal([...resultSummary({ kind: 'deploy', result: { x: '😀'.repeat(400) } })!].length, 300, 'cut on code points');
});

test('a start says where the VMs can be reached: the address, "no address yet", or nothing without a network', () => {
  const addresses = [
    { vm: 'web-01', address: '198.19.1.89', source: 'lease' },
    { vm: 'web-02', missing: 'timeout' },
    { vm: 'web-03', missing: 'no-network' },
  ];
  assert.equal(
    resultSummary({ kind: 'deploy', result: { vms: ['web-01', 'web-02', 'web-03'], mode: 'thin', started: true, addresses } }),
    '3 VMs: web-01 198.19.1.89, web-02 (no address yet), web-03 (thin, started)',
  );
  assert.equal(resultSummary({ kind: 'vm.start', result: { vm: 'web-01', state: 'running', addresses } }), 'running 198.19.1.89');
  assert.equal(resultSummary({ kind: 'vm.start', result: { vm: 'web-02', state: 'running', addresses } }), 'running (no address yet)');
  assert.equal(resultSummary({ kind: 'vm.start', result: { vm: 'web-03', state: 'running' } }), 'running');
  assert.equal(
    resultSummary({ kind: 'deploy', result: { vms: ['a', 'b'], mode: 'thin', started: true, addresses: [{ vm: 'a', address: '10.0.0.5' }, { vm: 'b', address: '10.0.0.5' }] } }),
    '2 VMs: a 10.0.0.5, b 10.0.0.5 — one address given to two VMs: they share a machine identity (seal the template) (thin, started)',
  );
});

test("deploy's first: a placed share stays within name-01 … name-20, with room for the suffix", async () => {
  const { deployPayload } = await import('../../src/kinds/deploy.js');
  const base = { host: 'local', template: 'base', name: 'web', mode: 'thin', start: false };
  assert.equal(deployPayload.safeParse({ ...base, count: 2, first: 19 }).success, true);
  assert.equal(deployPayload.safeParse({ ...base, count: 2, first: 20 }).success, false, 'web-21 is past the numbering');
  assert.equal(deployPayload.safeParse({ ...base, count: 1, first: 3, name: 'a'.repeat(61) }).success, false, 'a share is always numbered: -NN must fit');
});
