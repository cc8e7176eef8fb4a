import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isKvmopsError } from '../../src/domain/errors.js';
import {
  createSnapshot,
  deleteSnapshot,
  listSnapshots,
  revertSnapshot,
} from '../../src/hypervisor/snapshots/index.js';
import { SnapshotLab, skipReason, state, virsh } from '../helpers/snapshot-vm.js';

/**
 * Snapshots against the real libvirtd: every case writes a qemu-io pattern, snapshots,
 * overwrites, reverts and reads the first pattern back, and checks the vms dir for orphans.
 */

const A = 0x11;
const B = 0x22;
const C = 0x33;
const skip = skipReason();

describe('snapshots on real libvirt', { skip }, () => {
  let lab: SnapshotLab;
  before(() => {
    lab = new SnapshotLab('ksnap');
  });
  after(async () => {
    await lab?.cleanup();
  });
  const h = () => lab.h;
  const names = async (vm: string) => (await listSnapshots(h(), vm)).map((s) => s.name);
  const metadata = async (vm: string) =>
    (await virsh('snapshot-list', vm, '--name')).split('\n').filter(Boolean);

  test('internal, shut off: revert brings back the data; list shows it', async () => {
    const vm = await lab.vm();
    await lab.write(vm, A);
    const info = await createSnapshot(h(), { vm, name: 'i1', kind: 'internal', description: 'before <B> & co' });
    assert.deepEqual(
      { name: info.name, kind: info.kind, parent: info.parent, current: info.current, description: info.description, state: info.state },
      { name: 'i1', kind: 'internal', parent: null, current: true, description: 'before <B> & co', state: 'shutoff' },
    );
    assert.ok(Math.abs(info.createdAt - Date.now() / 1000) < 120);
    await lab.write(vm, B);
    await revertSnapshot(h(), { vm, name: 'i1' });
    await lab.expect(vm, A);
    assert.equal(await state(vm), 'shut off');
    await deleteSnapshot(h(), { vm, name: 'i1' });
    assert.deepEqual(await metadata(vm), []);
    await lab.expect(vm, A);
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm)]);
  });

  test('internal, running: snapshot while running, revert after overwrite', async () => {
    const vm = await lab.vm();
    await lab.write(vm, A);
    await virsh('start', vm);
    await createSnapshot(h(), { vm, name: 'ir', kind: 'internal' });
    await virsh('destroy', vm);
    await lab.write(vm, B);
    await revertSnapshot(h(), { vm, name: 'ir' });
    assert.equal(await state(vm), 'running', 'a snapshot taken while running reverts to a running VM');
    await lab.expect(vm, A);
    await deleteSnapshot(h(), { vm, name: 'ir' });
    assert.deepEqual(await metadata(vm), []);
    await virsh('destroy', vm);
    await lab.expect(vm, A);
  });

  test('external, shut off: revert twice to the same snapshot, no orphans', async () => {
    const vm = await lab.vm();
    await lab.write(vm, A);
    const info = await createSnapshot(h(), { vm, name: 'e1', kind: 'external', description: 'ext' });
    assert.equal(info.kind, 'external');
    assert.equal(info.current, true);
    const overlay = await lab.top(vm);
    assert.notEqual(overlay, lab.disk(vm));
    assert.equal(lab.storage.ownerOf(overlay), lab.uuid(vm), 'the overlay is named for the VM’s uuid');
    await lab.write(vm, B);
    await revertSnapshot(h(), { vm, name: 'e1' });
    await lab.expect(vm, A);
    assert.equal(await state(vm), 'shut off');
    await lab.write(vm, C);
    await revertSnapshot(h(), { vm, name: 'e1' });
    await lab.expect(vm, A);
    // each revert made a fresh overlay; the previous one, needed by nothing, is gone
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm), await lab.top(vm)].sort());
    const [s] = await listSnapshots(h(), vm);
    assert.equal(s?.current, true);
    // and the base was never written: the overlay sits on it
    const chain = JSON.parse(
      (await import('node:child_process')).execFileSync('qemu-img', ['info', '--backing-chain', '--output=json', await lab.top(vm)]).toString(),
    ) as Array<{ filename: string }>;
    assert.deepEqual(
      chain.map((c) => c.filename),
      [await lab.top(vm), lab.disk(vm)],
    );
  });

  test('external, running: snapshot while running, revert restarts it with the snapshot data', async () => {
    const vm = await lab.vm();
    await lab.write(vm, A);
    await virsh('start', vm);
    const info = await createSnapshot(h(), { vm, name: 'er', kind: 'external' });
    assert.equal(info.state, 'disk-snapshot');
    await virsh('destroy', vm);
    await lab.write(vm, B);
    await revertSnapshot(h(), { vm, name: 'er' });
    assert.equal(await state(vm), 'running');
    await lab.expect(vm, A);
    // revert while running: stopped, reverted, started again
    await revertSnapshot(h(), { vm, name: 'er' });
    await lab.expect(vm, A);
    await virsh('destroy', vm);
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm), await lab.top(vm)].sort());
  });

  test('two external snapshots: revert to the older, then the newer', async () => {
    const vm = await lab.vm();
    await lab.write(vm, A);
    await createSnapshot(h(), { vm, name: 'e1', kind: 'external' });
    const e1Overlay = await lab.top(vm);
    await lab.write(vm, B);
    await createSnapshot(h(), { vm, name: 'e2', kind: 'external' });
    const e2Overlay = await lab.top(vm);
    await lab.write(vm, C);
    await revertSnapshot(h(), { vm, name: 'e1' });
    await lab.expect(vm, A);
    // e2's overlay (holding C) is gone; e1's old overlay stays: it is e2's base
    assert.ok(!lab.filesOf(vm).includes(e2Overlay));
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm), e1Overlay, await lab.top(vm)].sort());
    await revertSnapshot(h(), { vm, name: 'e2' });
    await lab.expect(vm, B);
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm), e1Overlay, await lab.top(vm)].sort());
    await revertSnapshot(h(), { vm, name: 'e1' });
    await lab.expect(vm, A);
    const list = await listSnapshots(h(), vm);
    assert.deepEqual(
      list.map((s) => [s.name, s.parent, s.current]),
      [
        ['e1', null, true],
        ['e2', 'e1', false],
      ],
    );
    await assert.rejects(deleteSnapshot(h(), { vm, name: 'e1' }), (e) => isKvmopsError(e, 'snapshot-has-children'));
    await deleteSnapshot(h(), { vm, name: 'e2' });
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm), await lab.top(vm)].sort());
    await deleteSnapshot(h(), { vm, name: 'e1' });
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm)]);
    assert.equal(await lab.top(vm), lab.disk(vm));
    await lab.expect(vm, A);
    assert.deepEqual(await metadata(vm), []);
  });

  test('delete external, shut off: merged into the base, no file and no metadata left', async () => {
    const vm = await lab.vm();
    await lab.write(vm, A);
    await createSnapshot(h(), { vm, name: 'e1', kind: 'external' });
    await lab.write(vm, B);
    await deleteSnapshot(h(), { vm, name: 'e1' });
    assert.equal(await lab.top(vm), lab.disk(vm));
    await lab.expect(vm, B);
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm)]);
    assert.deepEqual(await metadata(vm), []);
  });

  test('delete external, running: committed and pivoted live, no file and no metadata left', async () => {
    const vm = await lab.vm();
    await lab.write(vm, A);
    await createSnapshot(h(), { vm, name: 'e1', kind: 'external' });
    await lab.write(vm, B);
    await virsh('start', vm);
    await deleteSnapshot(h(), { vm, name: 'e1' });
    assert.equal(await state(vm), 'running');
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm)]);
    assert.deepEqual(await metadata(vm), []);
    await virsh('destroy', vm);
    assert.equal(await lab.top(vm), lab.disk(vm));
    await lab.expect(vm, B);
  });

  test('mixed: internal → external → revert to the internal keeps the external one intact', async () => {
    const vm = await lab.vm();
    await lab.write(vm, A);
    await createSnapshot(h(), { vm, name: 'i1', kind: 'internal' });
    await lab.write(vm, B);
    await createSnapshot(h(), { vm, name: 'e1', kind: 'external' });
    await lab.write(vm, C);
    await revertSnapshot(h(), { vm, name: 'i1' });
    await lab.expect(vm, A);
    // the base still holds B for e1; the domain writes to a copy of i1
    await revertSnapshot(h(), { vm, name: 'e1' });
    await lab.expect(vm, B);
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm), await lab.top(vm)].sort());
    await revertSnapshot(h(), { vm, name: 'i1' });
    await lab.expect(vm, A);
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm), await lab.top(vm)].sort());
    const list = await listSnapshots(h(), vm);
    assert.deepEqual(
      list.map((s) => [s.name, s.kind, s.parent, s.current]),
      [
        ['i1', 'internal', null, true],
        ['e1', 'external', 'i1', false],
      ],
    );
    await deleteSnapshot(h(), { vm, name: 'e1' });
    await deleteSnapshot(h(), { vm, name: 'i1' });
    assert.deepEqual(await metadata(vm), []);
    // nothing needs the original disk anymore: the VM lives on the copy of i1
    assert.notEqual(await lab.top(vm), lab.disk(vm));
    assert.deepEqual(lab.filesOf(vm), [await lab.top(vm)]);
    await lab.expect(vm, A);
  });

  test('mixed, running: internal (with RAM) → external → revert to the internal, then the external', async () => {
    const vm = await lab.vm();
    await lab.write(vm, A);
    await virsh('start', vm);
    await createSnapshot(h(), { vm, name: 'i1', kind: 'internal' });
    await createSnapshot(h(), { vm, name: 'e1', kind: 'external' });
    await virsh('destroy', vm);
    await lab.write(vm, B);
    await revertSnapshot(h(), { vm, name: 'i1' });
    assert.equal(await state(vm), 'running');
    await lab.expect(vm, A);
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm), await lab.top(vm)].sort());
    await revertSnapshot(h(), { vm, name: 'e1' });
    assert.equal(await state(vm), 'running');
    await lab.expect(vm, A);
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm), await lab.top(vm)].sort());
    await virsh('destroy', vm);
  });

  test('mixed: external → internal → revert both ways, then delete all', async () => {
    const vm = await lab.vm();
    await lab.write(vm, A);
    await createSnapshot(h(), { vm, name: 'e1', kind: 'external' });
    await lab.write(vm, B);
    await createSnapshot(h(), { vm, name: 'i1', kind: 'internal', description: 'inside the overlay' });
    await lab.write(vm, C);
    await revertSnapshot(h(), { vm, name: 'e1' });
    await lab.expect(vm, A);
    await revertSnapshot(h(), { vm, name: 'i1' });
    await lab.expect(vm, B);
    await revertSnapshot(h(), { vm, name: 'e1' });
    await lab.expect(vm, A);
    await revertSnapshot(h(), { vm, name: 'i1' });
    await lab.expect(vm, B);
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm), await lab.top(vm)].sort());
    const list = await listSnapshots(h(), vm);
    assert.deepEqual(
      list.map((s) => [s.name, s.kind, s.parent, s.current, s.description]),
      [
        ['e1', 'external', null, false, ''],
        ['i1', 'internal', 'e1', true, 'inside the overlay'],
      ],
    );
    await deleteSnapshot(h(), { vm, name: 'i1' });
    await lab.expect(vm, B);
    await deleteSnapshot(h(), { vm, name: 'e1' });
    await lab.expect(vm, B);
    assert.deepEqual(lab.filesOf(vm), [lab.disk(vm)]);
    assert.deepEqual(await metadata(vm), []);
  });

  test('delete an internal snapshot that lives in a file the VM no longer writes to', async () => {
    const vm = await lab.vm();
    await lab.write(vm, A);
    await createSnapshot(h(), { vm, name: 'i1', kind: 'internal' });
    await createSnapshot(h(), { vm, name: 'e1', kind: 'external' });
    await lab.write(vm, B);
    await deleteSnapshot(h(), { vm, name: 'i1' });
    await lab.expect(vm, B);
    assert.deepEqual(await names(vm), ['e1']);
    const out = (await import('node:child_process')).execFileSync('qemu-img', ['snapshot', '-l', lab.disk(vm)]).toString();
    assert.doesNotMatch(out, /i1/);
    await revertSnapshot(h(), { vm, name: 'e1' });
    await lab.expect(vm, A);
  });

  test('errors: name-taken, vm-not-found, snapshot-not-found, unsupported on raw', async () => {
    const vm = await lab.vm();
    await createSnapshot(h(), { vm, name: 's', kind: 'internal' });
    await assert.rejects(createSnapshot(h(), { vm, name: 's', kind: 'external' }), (e) => isKvmopsError(e, 'name-taken'));
    await assert.rejects(listSnapshots(h(), `${vm}-nope`), (e) => isKvmopsError(e, 'vm-not-found'));
    await assert.rejects(createSnapshot(h(), { vm: `${vm}-nope`, name: 'x', kind: 'internal' }), (e) => isKvmopsError(e, 'vm-not-found'));
    await assert.rejects(revertSnapshot(h(), { vm, name: 'nope' }), (e) => isKvmopsError(e, 'snapshot-not-found'));
    await assert.rejects(deleteSnapshot(h(), { vm, name: 'nope' }), (e) => isKvmopsError(e, 'snapshot-not-found'));
    await assert.rejects(createSnapshot(h(), { vm, name: 'bad name', kind: 'internal' }), (e) => isKvmopsError(e, 'invalid-input'));
    const raw = await lab.vm({ format: 'raw' });
    await assert.rejects(createSnapshot(h(), { vm: raw, name: 'i', kind: 'internal' }), (e) => {
      assert.ok(isKvmopsError(e, 'unsupported'));
      assert.match(e.message, /qcow2/);
      return true;
    });
    assert.deepEqual(await metadata(raw), []);
    // external works on raw; revert and delete too
    await lab.write(raw, A);
    await createSnapshot(h(), { vm: raw, name: 'e', kind: 'external' });
    await lab.write(raw, B);
    await revertSnapshot(h(), { vm: raw, name: 'e' });
    await lab.expect(raw, A);
    await lab.write(raw, C);
    await deleteSnapshot(h(), { vm: raw, name: 'e' });
    await lab.expect(raw, C);
    // the raw base was not made by kvmops: never merged into, never removed; the chain stays
    assert.deepEqual(lab.filesOf(raw), [lab.disk(raw), await lab.top(raw)].sort());
    assert.deepEqual(await metadata(raw), []);
  });

  test('an aborted signal stops before anything runs', async () => {
    const vm = await lab.vm();
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(createSnapshot(h(), { vm, name: 'x', kind: 'internal' }, { signal: ac.signal }), (e) =>
      isKvmopsError(e, 'aborted'),
    );
    assert.deepEqual(await metadata(vm), []);
  });
});
