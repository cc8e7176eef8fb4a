/**
 * Hypervisor figures (issue 2), each beside a raw floor measured in the same run on this machine:
 *
 *  - 20 thin VMs from one template via `deploy`  vs  20 × `qemu-img create -b … -F qcow2` + one
 *    `virsh` process defining the same 20 XMLs. Target ≤ 1.5 × floor.
 *  - full clone of a 1 GiB qcow2 holding 200 MiB of random data via `deploy` (clone)  vs
 *    `cp --sparse=always` + `sync` (target ≤ 1.5 ×), vs `virt-clone --auto-clone` (target: faster),
 *    allocated size ≤ 1.1 × the template's. libvirt's vol-create-from (what remote hosts use) is
 *    printed too: it is why local hosts copy with cp.
 *
 * Each figure is the median of a few alternating runs. Runs against the local libvirtd; every
 * domain, pool and file it makes is removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { LibvirtHost } from '../src/hypervisor/host.js';
import { vmXml, newMac, newUuid } from '../src/hypervisor/domain-xml.js';
import { loadTemplate } from '../src/hypervisor/templates.js';
import {
  allocatedBytes,
  createDisk,
  defineVm,
  diskOf,
  libvirtAvailable,
  makeTestEnv,
  virshMaybe,
  type LibvirtTestEnv,
} from '../test/helpers/libvirt.js';
import type { BenchResult } from './types.js';

const REPS = Number(process.env.KVMOPS_BENCH_REPS ?? 3);

function sh(program: string, args: string[]): void {
  const r = spawnSync(program, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  if (r.status !== 0) throw new Error(`${program} ${args.slice(0, 3).join(' ')}…: ${r.stderr}`);
}
const now = () => performance.now() / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Raw removal of benchmark VMs between runs (not timed; not the code under test). */
function wipeVms(names: string[], files: string[]): void {
  if (names.length) spawnSync('virsh', ['--connect', 'qemu:///system', names.map((n) => `undefine ${n} --snapshots-metadata`).join(' ; ')]);
  for (const f of files) rmSync(f, { force: true });
}

async function benchThin(env: LibvirtTestEnv, host: LibvirtHost, libvirtHost: LibvirtHost, template: string): Promise<BenchResult[]> {
  const t = await loadTemplate(host.ctx, template);
  const tplDisk = t.disks[0]!;
  const ours: number[] = [];
  const viaLibvirt: number[] = [];
  const floor: number[] = [];
  for (let rep = 0; rep < REPS; rep++) {
    // kvmops
    let t0 = now();
    const r = await host.deploy({ template, name: env.vmName(`thin${rep}`), count: 20, mode: 'thin', start: false });
    ours.push(now() - t0);
    wipeVms(r.vms, r.vms.map((vm) => diskOf(vm)));

    // kvmops the remote way: libvirt's vol-create-as for every overlay (same virsh process as the defines)
    t0 = now();
    const r2 = await libvirtHost.deploy({ template, name: env.vmName(`lvthin${rep}`), count: 20, mode: 'thin', start: false });
    viaLibvirt.push(now() - t0);
    wipeVms(r2.vms, r2.vms.map((vm) => diskOf(vm)));

    // floor: 20 qemu-img processes + one virsh defining the same kind of XML
    const names = Array.from({ length: 20 }, (_, i) => env.vmName(`floor${rep}-${String(i + 1).padStart(2, '0')}`));
    const macs = new Set<string>();
    const xmlDir = `${env.outsideDir}/floor-xml`;
    sh('mkdir', ['-p', xmlDir]);
    const files = names.map((n) => {
      const disk = `${env.storage.vmsDir}/${n}--vda.qcow2`;
      const file = path.join(xmlDir, `${n}.xml`);
      writeFileSync(
        file,
        vmXml({ templateXml: t.xml, name: n, uuid: newUuid(), macs: [newMac(macs)], diskPaths: new Map([['vda', disk]]), meta: { template, mode: 'thin' } }),
      );
      return { disk, file };
    });
    t0 = now();
    for (const f of files) sh('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', tplDisk.file, '-F', 'qcow2', f.disk]);
    sh('virsh', ['--connect', 'qemu:///system', files.map((f) => `define ${f.file}`).join(' ; ')]);
    floor.push(now() - t0);
    wipeVms(names, files.map((f) => f.disk));
  }
  const v = median(ours);
  const f = median(floor);
  return [
    {
      name: '20 thin VMs: deploy vs 20×qemu-img create + 1 virsh define×20',
      value: v,
      unit: 's',
      floor: f,
      ratio: v / f,
      target: '≤ 1.5 × floor',
      pass: v / f <= 1.5,
    },
    { name: '(info) 20 thin VMs via libvirt vol-create-as (remote path) vs floor', value: median(viaLibvirt), unit: 's', floor: f, ratio: median(viaLibvirt) / f },
  ];
}

/** A 1 GiB qcow2 with 200 MiB of random (incompressible) data at its start. */
function makeBigDisk(file: string, scratch: string): void {
  createDisk(file, { sizeMiB: 1024 });
  const rnd = `${scratch}/random.bin`;
  const fd = openSync(rnd, 'w');
  for (let i = 0; i < 200; i++) writeSync(fd, randomBytes(1 << 20));
  closeSync(fd);
  sh('qemu-io', ['-c', `write -s ${rnd} 0 200M`, file]);
  rmSync(rnd);
}

async function benchClone(env: LibvirtTestEnv, host: LibvirtHost, libvirtHost: LibvirtHost): Promise<BenchResult[]> {
  const src = env.vmName('big');
  const srcDisk = `${env.outsideDir}/big.qcow2`;
  makeBigDisk(srcDisk, env.outsideDir);
  defineVm(src, [srcDisk]);
  const template = `${env.prefix}bigtpl`;
  const tpl = await host.createTemplate({ vm: src, name: template, seal: false });
  const tplFile = tpl.disks[0]!.file;
  const tplAlloc = allocatedBytes(tplFile);
  const ours: number[] = [];
  const viaLibvirt: number[] = [];
  const cpFloor: number[] = [];
  const virtClone: number[] = [];
  let alloc = 0;
  for (let rep = 0; rep < REPS; rep++) {
    sh('sync', []);
    let t0 = now();
    const r = await host.deploy({ template, name: env.vmName(`clone${rep}`), count: 1, mode: 'clone', start: false });
    ours.push(now() - t0);
    const file = diskOf(r.vms[0]!);
    alloc = Math.max(alloc, allocatedBytes(file));
    wipeVms(r.vms, [file]);

    sh('sync', []);
    t0 = now();
    const r2 = await libvirtHost.deploy({ template, name: env.vmName(`lvclone${rep}`), count: 1, mode: 'clone', start: false });
    sh('sync', []);
    viaLibvirt.push(now() - t0);
    wipeVms(r2.vms, [diskOf(r2.vms[0]!)]);

    sh('sync', []);
    const dst = `${env.storage.vmsDir}/cp-floor.qcow2`;
    t0 = now();
    sh('cp', ['--sparse=always', tplFile, dst]);
    sh('sync', []);
    cpFloor.push(now() - t0);
    rmSync(dst, { force: true });

    sh('sync', []);
    const vcName = env.vmName(`vc${rep}`);
    const vcFile = `${env.outsideDir}/${vcName}.qcow2`;
    t0 = now();
    sh('virt-clone', ['--connect', 'qemu:///system', '--original', src, '--name', vcName, '--file', vcFile, '--quiet']);
    sh('sync', []);
    virtClone.push(now() - t0);
    wipeVms([vcName], [vcFile]);
  }
  // virt-clone's side effect: a persistent pool named after the target folder
  const sidePool = path.basename(env.outsideDir);
  virshMaybe('pool-destroy', sidePool);
  virshMaybe('pool-undefine', sidePool);

  const v = median(ours);
  const f = median(cpFloor);
  const vc = median(virtClone);
  const lv = median(viaLibvirt);
  return [
    { name: 'clone 1 GiB/200 MiB: deploy vs cp --sparse=always + sync', value: v, unit: 's', floor: f, ratio: v / f, target: '≤ 1.5 × floor', pass: v / f <= 1.5 },
    { name: 'clone 1 GiB/200 MiB: deploy vs virt-clone', value: v, unit: 's', floor: vc, ratio: v / vc, target: '< 1 × virt-clone', pass: v < vc },
    { name: 'clone allocated size vs template', value: alloc / 2 ** 20, unit: 'MiB', floor: tplAlloc / 2 ** 20, ratio: alloc / tplAlloc, target: '≤ 1.1 × template', pass: alloc <= 1.1 * tplAlloc },
    { name: '(info) clone via libvirt vol-create-from (remote path) vs cp floor', value: lv, unit: 's', floor: f, ratio: lv / f },
  ];
}

export async function benchHypervisor(): Promise<BenchResult[]> {
  if (!libvirtAvailable()) throw new Error('virsh is not installed: the hypervisor bench needs a libvirt host (scripts/host-setup.sh)');
  const env = makeTestEnv('bench');
  try {
    const host = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir });
    const libvirtHost = new LibvirtHost(
      { name: 'local', uri: 'qemu:///system' },
      { storageDir: env.storageDir, deploy: { cloneCopier: 'libvirt', overlayCreator: 'libvirt' } },
    );
    const src = env.vmName('small');
    defineVm(src, [createDisk(`${env.outsideDir}/small.qcow2`)]);
    const small = await host.createTemplate({ vm: src, name: `${env.prefix}small`, seal: false });
    return [...(await benchThin(env, host, libvirtHost, small.name)), ...(await benchClone(env, host, libvirtHost))];
  } finally {
    env.cleanup();
  }
}
