import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { KvmopsError } from '../domain/errors.js';
import type { HostContext } from '../hypervisor/host-context.js';
import { ensurePools, forgetPools } from '../hypervisor/pools.js';
import { qemuImg } from '../hypervisor/qemu-img.js';
import { remoteShell } from '../hypervisor/remote-exec.js';
import * as qemuIo from '../hypervisor/qemu-io.js';
import { newDomainUuid } from '../hypervisor/domain-uuid.js';
import { freshVmFile } from '../hypervisor/storage.js';
import { withTempDir } from '../hypervisor/tempdir.js';
import { assertName } from '../hypervisor/validate.js';
import { qemuImgArgs } from '../hypervisor/qemu-img-args.js';
import { virshArgs } from '../hypervisor/virsh-args.js';
import { deleteVm, listVms } from '../hypervisor/vms.js';

/**
 * A small lab kit for `npm run demo` and manual trials on a LOCAL host (and, for `--guest`, a
 * real guest's VM on any host: `createGuestVm`): a tiny "golden" VM
 * (a qcow2 with no OS: the guest sits in SeaBIOS, enough for define/start/snapshot), byte
 * patterns written and checked with qemu-io (the VM must be shut off), and clean-up of a lab's
 * VMs and pools. Not used by the bot itself: it uses the hypervisor layer, never the other way
 * round, and runs no program itself (the hypervisor does).
 */

/** The golden VM: small enough for TCG and a quick copy. */
const GOLDEN_DISK_MIB = 64;
const GOLDEN_MEMORY_MIB = 64;
/** How much of a disk the data checks write and read. */
const PATTERN_LENGTH = '1M';

function requireLocal(h: HostContext): void {
  if (!h.local) throw new KvmopsError('unsupported', 'the lab kit works on the local host only');
}

/** Defines `name` with one small qcow2 disk in the storage dir's vms folder. Returns the disk. */
export async function createGoldenVm(h: HostContext, name: string, opts: { sizeMiB?: number } = {}): Promise<string> {
  requireLocal(h);
  assertName(name, 'VM');
  await ensurePools(h);
  // named as kvmops names a VM's files (storage.ts), so deleting the VM removes it
  const uuid = newDomainUuid();
  const disk = h.storage.assertInside(await freshVmFile(h.storage, uuid, 'vda', { local: true }));
  await qemuImg(qemuImgArgs.create(disk, (opts.sizeMiB ?? GOLDEN_DISK_MIB) * 1024 * 1024), { timeoutMs: 30_000 });
  const xml = `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>${GOLDEN_MEMORY_MIB}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
    <interface type='user'><model type='virtio'/></interface>
  </devices>
</domain>
`;
  await withTempDir(async (dir) => {
    const file = path.join(dir, 'golden.xml');
    await writeFile(file, xml);
    await h.virsh.run(virshArgs.define(file), { timeoutMs: 30_000 });
  });
  return disk;
}

/**
 * A VM for the guest demo, on any host (a lab host too): its disk a thin overlay of the guest
 * image (`image`: a path that host sees; qemu-img runs there), named as kvmops names a VM's files;
 * TCG, 1 vCPU, 768 MiB, ACPI (so a shutdown request is heard), one NIC on libvirt network
 * `network`, and the guest agent's channel. Never booted: a template made from it gives each VM
 * its first boot, and with it its own machine-id and DHCP identity.
 */
export async function createGuestVm(h: HostContext, name: string, image: string, opts: { network: string }): Promise<string> {
  assertName(name, 'VM');
  if (!/^[A-Za-z0-9._-]+$/.test(opts.network)) throw new KvmopsError('invalid-input', `not a network name: ${opts.network}`);
  await ensurePools(h);
  const uuid = newDomainUuid();
  const disk = h.storage.assertInside(await freshVmFile(h.storage, uuid, 'vda', { local: h.local }));
  await qemuImg(qemuImgArgs.createOverlay(disk, image), { timeoutMs: 60_000, remote: remoteShell(h) });
  const xml = `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>768</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
    <interface type='network'><source network='${opts.network}'/><model type='virtio'/></interface>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
  </devices>
</domain>
`;
  await withTempDir(async (dir) => {
    const file = path.join(dir, 'guest.xml');
    await writeFile(file, xml);
    await h.virsh.run(virshArgs.define(file), { timeoutMs: 30_000 });
  });
  return disk;
}

/** `qemu-io write -P byte` over the first `length` bytes of a shut-off VM's disk. */
export async function writeDiskPattern(h: HostContext, file: string, byte: number, length = PATTERN_LENGTH): Promise<void> {
  requireLocal(h);
  h.storage.assertInside(file);
  await qemuIo.writeDiskPattern(file, byte, length);
}

/** True when the first `length` bytes all hold `byte` (qemu-io `read -P`, read-only, `-U`). */
export async function hasDiskPattern(h: HostContext, file: string, byte: number, length = PATTERN_LENGTH): Promise<boolean> {
  requireLocal(h);
  h.storage.assertInside(file);
  return qemuIo.hasDiskPattern(file, byte, length);
}

/** Removes every VM whose name starts with `prefix` (disks included), then the lab's pools. */
export async function removeLab(h: HostContext, prefix: string): Promise<string[]> {
  requireLocal(h);
  const removed: string[] = [];
  for (const vm of await listVms(h)) {
    if (!vm.name.startsWith(prefix)) continue;
    await deleteVm(h, vm.name);
    removed.push(vm.name);
  }
  for (const pool of [h.storage.templatesPool, h.storage.vmsPool]) {
    await h.virsh.run(virshArgs.poolDestroy(pool)).catch(() => undefined);
    await h.virsh.run(virshArgs.poolUndefine(pool)).catch(() => undefined);
  }
  forgetPools(h);
  return removed;
}
