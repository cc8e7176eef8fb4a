import { execFile, execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { asDomainUuid } from '../../src/hypervisor/domain-uuid.js';
import type { HostContext } from '../../src/hypervisor/host-context.js';
import { StorageLayout } from '../../src/hypervisor/storage.js';
import { Virsh } from '../../src/hypervisor/virsh.js';

/**
 * Small real-libvirt VMs for the snapshot tests: a 64 MiB qcow2 (no OS: the guest sits in
 * SeaBIOS) in a unique storage dir under /var/lib/kvmops-test, a `type='qemu'` domain, and
 * cleanup of everything the test made. Data is checked with qemu-io patterns.
 */

const exec = promisify(execFile);
export const URI = 'qemu:///system';

/** Outside CI a missing virsh skips the real-libvirt tests; under CI=true nothing skips. */
export function skipReason(): string | false {
  if (process.env.CI === 'true') return false;
  try {
    execFileSync('virsh', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'virsh is not installed';
  }
}

export class SnapshotLab {
  readonly root = `/var/lib/kvmops-test/${randomBytes(6).toString('hex')}`;
  readonly storage = new StorageLayout(this.root);
  readonly h: HostContext = { name: 'local', uri: URI, virsh: new Virsh(URI), storage: this.storage, local: true };
  private readonly vms: string[] = [];
  private readonly uuids = new Map<string, string>();
  private readonly disks = new Map<string, string>();
  private n = 0;

  constructor(readonly prefix: string) {
    mkdirSync(this.storage.vmsDir, { recursive: true });
  }

  /**
   * A fresh shut-off VM with one disk `vda`. qcow2 (default): named as kvmops names a VM's
   * files (`vms/<uuid>.vda.<tag>.qcow2`), so kvmops may merge into it and remove it. raw, or
   * `handMade`: `vms/<name>--vda.<format>`, a file kvmops did not make (never removed by it).
   */
  async vm(opts: { format?: 'qcow2' | 'raw'; handMade?: boolean } = {}): Promise<string> {
    const name = `${this.prefix}-${process.pid}-${++this.n}`;
    const format = opts.format ?? 'qcow2';
    const uuid = randomUUID();
    const disk =
      format === 'qcow2' && !opts.handMade
        ? this.storage.newVmFile(asDomainUuid(uuid), 'vda')
        : `${this.storage.vmsDir}/${name}--vda.${format}`;
    await exec('qemu-img', ['create', '-q', '-f', format, disk, '64M']);
    this.uuids.set(name, uuid);
    this.disks.set(name, disk);
    const xml = `<domain type='qemu'><name>${name}</name><uuid>${uuid}</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type></os>
<devices><disk type='file' device='disk'><driver name='qemu' type='${format}'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk></devices></domain>`;
    const f = `${this.root}/${name}.xml`;
    writeFileSync(f, xml);
    await virsh('define', f);
    rmSync(f);
    this.vms.push(name);
    return name;
  }

  /** The file the VM's vda writes to now (persistent config). */
  async top(vm: string): Promise<string> {
    const xml = await virsh('dumpxml', '--inactive', vm);
    const m = /<disk[^>]*device='disk'[\s\S]*?<source file='([^']+)'/.exec(xml);
    if (!m) throw new Error(`no disk in ${vm}`);
    return m[1]!;
  }

  async write(vm: string, pattern: number): Promise<void> {
    await exec('qemu-io', ['-c', `write -P ${pattern} 0 1M`, await this.top(vm)]);
  }

  /** Throws (qemu-io: "Pattern verification failed") unless the disk holds the pattern. */
  async expect(vm: string, pattern: number): Promise<void> {
    const top = await this.top(vm);
    const running = (await state(vm)) !== 'shut off';
    const { stdout } = await exec('qemu-io', [...(running ? ['-U'] : []), '-r', '-c', `read -P ${pattern} 0 1M`, top]);
    if (/Pattern verification failed/.test(stdout)) throw new Error(`${vm}: ${top} does not hold pattern ${pattern}`);
  }

  files(): string[] {
    return readdirSync(this.storage.vmsDir).sort();
  }

  /** The disk the VM was made with. */
  disk(vm: string): string {
    return this.disks.get(vm)!;
  }

  uuid(vm: string): string {
    return this.uuids.get(vm)!;
  }

  /** The VM's files in the vms dir (its first disk and every file kvmops made for it), sorted paths. */
  filesOf(vm: string): string[] {
    const uuid = this.uuid(vm);
    return this.files()
      .map((f) => `${this.storage.vmsDir}/${f}`)
      .filter((f) => f === this.disk(vm) || this.storage.ownerOf(f) === uuid)
      .sort();
  }

  async cleanup(): Promise<void> {
    for (const vm of this.vms) {
      await virsh('destroy', vm).catch(() => undefined);
      await virsh('undefine', vm, '--snapshots-metadata').catch(() => undefined);
    }
    rmSync(this.root, { recursive: true, force: true });
  }
}

export async function virsh(...args: string[]): Promise<string> {
  return (await exec('virsh', ['--connect', URI, ...args])).stdout;
}

export async function state(vm: string): Promise<string> {
  return (await virsh('domstate', vm)).trim();
}
