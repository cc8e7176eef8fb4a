/**
 * VM lifecycle on the real libvirtd, and defence in depth: invalid names never reach a program.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHypervisor } from '../../src/hypervisor/index.js';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import type { HostDriver } from '../../src/hypervisor/types.js';
import {
  createDisk,
  defineVm,
  domainExists,
  domState,
  makeTestEnv,
  ownedDiskPath,
  skipUnlessLibvirt,
  virsh,
  type LibvirtTestEnv,
  hasCode,
} from '../helpers/libvirt.js';

const skip = skipUnlessLibvirt();
const code = hasCode;

describe('VM lifecycle (real libvirt)', skip, () => {
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  before(() => {
    env = makeTestEnv('vms');
    host = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir });
  });
  after(() => env?.cleanup());

  it('ping answers with versions', async () => {
    const p = await host.ping();
    assert.equal(p.ok, true);
    assert.match(p.detail, /^libvirt \d+\.\d+\.\d+, QEMU /);
    const bad = new LibvirtHost({ name: 'gone', uri: 'qemu+unix:///system?socket=/nonexistent' }, { storageDir: env.storageDir });
    assert.equal((await bad.ping()).ok, false);
  });

  it('list, info, start (idempotent), stop with a bounded ACPI wait, force', async () => {
    const vm = env.vmName('life');
    const disk = createDisk(`${env.storage.vmsDir}/${vm}--vda.qcow2`);
    defineVm(vm, [disk], { memoryMiB: 96 });
    const info = await host.vmInfo(vm);
    assert.deepEqual((await host.listVms()).find((v) => v.name === vm), { name: vm, uuid: info.uuid, state: 'shut off' }, 'with its uuid: what a job pins');
    assert.equal(info.vcpus, 1);
    assert.equal(info.memoryKiB, 96 * 1024);
    assert.equal(info.disks.length, 1);
    assert.equal(info.disks[0]!.chain.length, 1);
    assert.equal(info.deployedFrom, undefined);
    assert.deepEqual(info.snapshots, []);

    await host.stopVm({ vm, force: false }); // already shut off: fine
    await host.startVm(vm);
    await host.startVm(vm); // already running: fine
    assert.equal(domState(vm), 'running');
    assert.equal((await host.listVms()).find((v) => v.name === vm)?.state, 'running');

    // a guest in SeaBIOS ignores ACPI: the bounded wait fails quickly with command-timeout …
    const t0 = Date.now();
    await assert.rejects(host.stopVm({ vm, force: false, timeoutMs: 1_000 }), code('command-timeout'));
    assert.ok(Date.now() - t0 < 8_000);
    assert.equal(domState(vm), 'running');
    // … and force works
    await host.stopVm({ vm, force: true });
    assert.equal(domState(vm), 'shut off');
  });

  it('unknown VMs: vm-not-found', async () => {
    const vm = env.vmName('nope');
    await assert.rejects(host.vmInfo(vm), code('vm-not-found'));
    await assert.rejects(host.startVm(vm), code('vm-not-found'));
    await assert.rejects(host.stopVm({ vm, force: true }), code('vm-not-found'));
    await assert.rejects(host.deleteVm(vm), code('vm-not-found'));
  });

  it('delete (running VM): destroys, undefines, removes the disk made for it; a file outside the storage dir is kept', async () => {
    const vm = env.vmName('del');
    const uuid = randomUUID();
    const inside = createDisk(ownedDiskPath(env.storage, uuid));
    const outside = createDisk(`${env.outsideDir}/${vm}-data.qcow2`);
    defineVm(vm, [inside, outside], { uuid });
    virsh('start', vm);
    const r = await host.deleteVm(vm);
    assert.deepEqual(r, { removed: [inside], kept: [outside] });
    assert.equal(domainExists(vm), false);
    assert.equal(existsSync(inside), false);
    assert.equal(existsSync(outside), true);
  });

  it('delete never removes old-named or hand-made files, nor files made for another VM', async () => {
    const vm = env.vmName('old');
    const oldNamed = createDisk(`${env.storage.vmsDir}/${vm}--vda.qcow2`);
    const handMade = createDisk(`${env.storage.vmsDir}/data.qcow2`);
    const others = createDisk(ownedDiskPath(env.storage, randomUUID(), 'vdc'));
    defineVm(vm, [oldNamed, handMade, others]);
    assert.deepEqual(await host.deleteVm(vm), { removed: [], kept: [oldNamed, handMade, others].sort() });
    for (const f of [oldNamed, handMade, others]) assert.ok(existsSync(f));
  });

  it('delete keeps a file another VM still uses', async () => {
    const a = env.vmName('sha');
    const b = env.vmName('shb');
    const uuidA = randomUUID();
    const shared = createDisk(ownedDiskPath(env.storage, uuidA));
    defineVm(a, [shared], { uuid: uuidA });
    defineVm(b, [shared]);
    assert.deepEqual(await host.deleteVm(a), { removed: [], kept: [shared] });
    assert.equal(existsSync(shared), true);
    // made for a, not for b: b's delete keeps it too
    assert.deepEqual(await host.deleteVm(b), { removed: [], kept: [shared] });
  });
});

describe('invalid names never reach a program (real libvirt)', skip, () => {
  const BAD = [
    '../x',
    'a;b',
    '$(id)',
    'x'.repeat(64),
    '',
    'a b',
    "a'b",
    '-rf',
    // virsh would read these as a domain id or uuid, not as a name
    '34',
    '0',
    '3f2a9c1e-0b7d-4e55-9a10-2c4b6d8e0f12',
    '3f2a9c1e0b7d4e559a102c4b6d8e0f12',
    '3F2A9C1E-0B7D-4E55-9A10-2C4B6D8E0F12',
  ];
  let shimDir: string;
  let logFile: string;
  let savedPath: string | undefined;
  let env: LibvirtTestEnv;
  let host: HostDriver;

  before(() => {
    env = makeTestEnv('bad');
    // Every program the hypervisor layer may run is replaced by a shim that logs and fails.
    shimDir = mkdtempSync(path.join(os.tmpdir(), 'kvmops-shim-'));
    logFile = path.join(shimDir, 'calls.log');
    writeFileSync(logFile, '');
    for (const p of ['virsh', 'qemu-img', 'qemu-io', 'cp', 'sync', 'virt-sysprep', 'sh', 'bash']) {
      writeFileSync(path.join(shimDir, p), `#!/bin/sh\necho "${p} $*" >> '${logFile}'\nexit 1\n`);
      chmodSync(path.join(shimDir, p), 0o755);
    }
    savedPath = process.env.PATH;
    process.env.PATH = shimDir;
    host = createHypervisor({ hosts: [{ name: 'local', uri: 'qemu:///system' }], storageDir: env.storageDir }).host('local');
  });
  after(() => {
    process.env.PATH = savedPath;
    rmSync(shimDir, { recursive: true, force: true });
    env?.cleanup();
  });

  it('every method refuses with invalid-input, and no process ran', async () => {
    const ok = 'good-name';
    for (const bad of BAD) {
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['vmInfo', () => host.vmInfo(bad)],
        ['startVm', () => host.startVm(bad)],
        ['stopVm', () => host.stopVm({ vm: bad, force: true })],
        ['deleteVm', () => host.deleteVm(bad)],
        ['createTemplate vm', () => host.createTemplate({ vm: bad, name: ok, seal: false })],
        ['createTemplate name', () => host.createTemplate({ vm: ok, name: bad, seal: true })],
        ['deleteTemplate', () => host.deleteTemplate(bad)],
        ['deploy template', () => host.deploy({ template: bad, name: ok, count: 1, mode: 'thin', start: false })],
        ['deploy name', () => host.deploy({ template: ok, name: bad, count: 2, mode: 'clone', start: false })],
        ['deploy requestId', () => host.deploy({ template: ok, name: ok, count: 1, mode: 'thin', start: false, requestId: bad })],
        ['listSnapshots', () => host.listSnapshots(bad)],
        ['createSnapshot vm', () => host.createSnapshot({ vm: bad, name: ok, kind: 'internal' })],
        ['createSnapshot name', () => host.createSnapshot({ vm: ok, name: bad, kind: 'external' })],
        ['revertSnapshot', () => host.revertSnapshot({ vm: ok, name: bad })],
        ['revertSnapshot requestId', () => host.revertSnapshot({ vm: ok, name: ok, requestId: bad })],
        ['deleteSnapshot', () => host.deleteSnapshot({ vm: bad, name: ok })],
      ];
      for (const [what, call] of calls) {
        await assert.rejects(call(), code('invalid-input'), `${what}(${JSON.stringify(bad)})`);
      }
    }
    // names that become invalid only as name-NN (62 + 3 > 63), and bad counts/modes
    await assert.rejects(host.deploy({ template: ok, name: 'x'.repeat(62), count: 2, mode: 'thin', start: false }), code('invalid-input'));
    await assert.rejects(host.deploy({ template: ok, name: ok, count: 21, mode: 'thin', start: false }), code('invalid-input'));
    await assert.rejects(host.deploy({ template: ok, name: ok, count: 0, mode: 'thin', start: false }), code('invalid-input'));
    await assert.rejects(
      host.deploy({ template: ok, name: ok, count: 1, mode: 'fast' as 'thin', start: false }),
      code('invalid-input'),
    );
    assert.equal(readFileSync(logFile, 'utf8'), '', 'no program was run');
    assert.deepEqual(readdirSync(env.storageDir), []);
  });

  it('the shims do catch a call (the seam works)', async () => {
    await assert.rejects(host.vmInfo('valid-but-shimmed'));
    assert.match(readFileSync(logFile, 'utf8'), /^virsh /m);
  });

  it('unknown host: host-not-found', () => {
    const hv = createHypervisor({ hosts: [{ name: 'a', uri: 'qemu:///system' }, { name: 'b', uri: 'qemu+ssh://b/system' }], storageDir: '/var/lib/kvmops' });
    assert.deepEqual(hv.hostNames(), ['a', 'b']);
    assert.equal(hv.host().name, 'a');
    assert.equal(hv.host('b').uri, 'qemu+ssh://b/system');
    assert.throws(() => hv.host('c'), code('host-not-found'));
  });
});
