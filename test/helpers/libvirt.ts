/**
 * Real-libvirt test helpers (shared by the hypervisor and snapshot suites). Each test file
 * makes its own `LibvirtTestEnv`: a unique storage dir under /var/lib/kvmops-test/<random>, a
 * unique domain-name prefix, tiny qcow2 disks and `type='qemu'` domains (no /dev/kvm needed),
 * and a cleanup that removes every domain with the prefix, the storage dir's pools and the dir.
 *
 * Skipping: outside CI a missing `virsh` skips the real-libvirt tests; under CI=true nothing
 * skips (a broken host fails loudly).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isKvmopsError } from '../../src/domain/errors.js';
import { asDomainUuid } from '../../src/hypervisor/domain-uuid.js';
import { StorageLayout } from '../../src/hypervisor/storage.js';
import type { HostDriver, TemplateInfo } from '../../src/hypervisor/types.js';

export const URI = 'qemu:///system';
export const TEST_ROOT = '/var/lib/kvmops-test';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function sh(program: string, args: string[], opts: { allowFail?: boolean; input?: string } = {}): string {
  const r = spawnSync(program, args, { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' }, input: opts.input });
  if (r.error) throw r.error;
  if (r.status !== 0 && !opts.allowFail) {
    throw new Error(`${program} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  }
  return r.stdout;
}

export function virsh(...args: string[]): string {
  return sh('virsh', ['--connect', URI, ...args]);
}
export function virshMaybe(...args: string[]): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync('virsh', ['--connect', URI, ...args], { encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

let ready: boolean | undefined;
/**
 * True when real-libvirt tests can run. Runs scripts/host-setup.sh once if `virsh version`
 * fails. Returns false (skip) only when virsh is absent and CI is not set.
 */
export function libvirtAvailable(): boolean {
  if (ready !== undefined) return ready;
  const hasVirsh = spawnSync('sh', ['-c', 'command -v virsh'], { encoding: 'utf8' }).status === 0;
  if (!hasVirsh && process.env.CI !== 'true') return (ready = false);
  if (!hasVirsh || !virshMaybe('version').ok) {
    execFileSync('bash', [path.join(REPO, 'scripts/host-setup.sh')], { stdio: 'inherit' });
  }
  if (!virshMaybe('version').ok) throw new Error('libvirtd does not answer after scripts/host-setup.sh');
  return (ready = true);
}

/** `{ skip }` for node:test: a reason outside CI without virsh, else false. */
export function skipUnlessLibvirt(): { skip: string | false } {
  return { skip: libvirtAvailable() ? false : 'virsh is not installed (set CI=true to make this fail instead)' };
}

export interface LibvirtTestEnv {
  /** e.g. `kt3f9a2c-tpl-`: every domain this env makes starts with it. */
  prefix: string;
  storageDir: string;
  storage: StorageLayout;
  /** A scratch dir beside (not inside) the storage dir: for files "outside the storage dir". */
  outsideDir: string;
  /** `${prefix}${suffix}` */
  vmName(suffix: string): string;
  cleanup(): void;
}

export function makeTestEnv(label: string): LibvirtTestEnv {
  const id = randomBytes(3).toString('hex');
  const prefix = `kt${id}-${label}-`;
  const storageDir = `${TEST_ROOT}/${id}-${label}`;
  const outsideDir = `${TEST_ROOT}/${id}-${label}-outside`;
  mkdirSync(storageDir, { recursive: true });
  mkdirSync(outsideDir, { recursive: true });
  const storage = new StorageLayout(storageDir);
  return {
    prefix,
    storageDir,
    storage,
    outsideDir,
    vmName: (suffix) => `${prefix}${suffix}`,
    cleanup: () => cleanupEnv(prefix, storage, [storageDir, outsideDir]),
  };
}

export function cleanupEnv(prefix: string, storage: StorageLayout, dirs: string[]): void {
  const names = virshMaybe('list', '--all', '--name').stdout.split('\n').map((s) => s.trim()).filter((n) => n.startsWith(prefix));
  for (const n of names) {
    virshMaybe('destroy', n);
    const u = virshMaybe('undefine', n, '--snapshots-metadata', '--nvram');
    if (!u.ok) virshMaybe('undefine', n, '--snapshots-metadata');
  }
  for (const pool of [storage.templatesPool, storage.vmsPool]) {
    virshMaybe('pool-destroy', pool);
    virshMaybe('pool-undefine', pool);
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

/** A qcow2 of `sizeMiB` (default 64), optionally an overlay on `backing` (qcow2). */
export function createDisk(file: string, opts: { sizeMiB?: number; backing?: string } = {}): string {
  mkdirSync(path.dirname(file), { recursive: true });
  const args = ['create', '-q', '-f', 'qcow2'];
  if (opts.backing) args.push('-b', opts.backing, '-F', 'qcow2');
  args.push(file);
  if (!opts.backing || opts.sizeMiB) args.push(`${opts.sizeMiB ?? 64}M`);
  sh('qemu-img', args);
  return file;
}

/** Defines a tiny `type='qemu'` domain (user-mode NIC, no graphics) using the given qcow2 disks (vda, vdb …). */
export function defineVm(name: string, disks: string[], opts: { memoryMiB?: number; nics?: number; uuid?: string } = {}): void {
  const diskXml = disks
    .map(
      (f, i) =>
        `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${f}'/><target dev='vd${String.fromCharCode(97 + i)}' bus='virtio'/></disk>`,
    )
    .join('');
  const nics = Array.from({ length: opts.nics ?? 1 }, () => `<interface type='user'><model type='virtio'/></interface>`).join('');
  const uuid = opts.uuid ? `<uuid>${opts.uuid}</uuid>` : '';
  defineXml(
    `<domain type='qemu'><name>${name}</name>${uuid}<memory unit='MiB'>${opts.memoryMiB ?? 64}</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><devices>${diskXml}${nics}</devices></domain>`,
  );
}

/**
 * Many tiny diskless domains defined by hand (behind kvmops' back) in one virsh process: a host
 * with many VMs, cheaply. Returns their names.
 */
export function defineMany(names: readonly string[]): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'kvmops-many-'));
  try {
    const files = names.map((name, i) => {
      const f = path.join(dir, `${i}.xml`);
      writeFileSync(f, `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>`);
      return f;
    });
    for (let i = 0; i < files.length; i += 200) virsh(files.slice(i, i + 200).map((f) => `define ${f}`).join(' ; '));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return [...names];
}

/** `virsh define` of a domain XML (through a temporary file). */
export function defineXml(xml: string): void {
  const tmp = path.join('/tmp', `kvmops-test-${randomBytes(4).toString('hex')}.xml`);
  writeFileSync(tmp, xml);
  try {
    virsh('define', tmp);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * A path named as kvmops names the files it makes for a VM (`vms/<uuid>.<target>.<tag>.qcow2`):
 * a VM defined with that uuid owns it, so kvmops' clean-ups may remove it.
 */
export function ownedDiskPath(storage: StorageLayout, uuid: string, target = 'vda'): string {
  return storage.newVmFile(asDomainUuid(uuid), target);
}

/** The file a domain's disk `target` uses (persistent definition). */
export function diskOf(domain: string, target = 'vda'): string {
  const xml = virsh('dumpxml', '--inactive', domain);
  for (const m of xml.matchAll(/<disk\b[\s\S]*?<\/disk>/g)) {
    if (new RegExp(`<target dev='${target}'`).test(m[0])) return /<source file='([^']+)'/.exec(m[0])![1]!;
  }
  throw new Error(`${domain} has no disk ${target}`);
}

/** The file in `domain`'s CD-ROM drive (its cloud-init seed, for a deployed VM); throws when it has none. */
export function seedOf(domain: string): string {
  const xml = virsh('dumpxml', '--inactive', domain);
  for (const m of xml.matchAll(/<disk\b[^>]*device='cdrom'[\s\S]*?<\/disk>/g)) {
    const src = /<source file='([^']+)'/.exec(m[0]);
    if (src) return src[1]!;
  }
  throw new Error(`${domain} has no CD-ROM with a medium`);
}

/** The files of `dir`/… extracted from an ISO (xorriso), by name. */
export function isoFiles(iso: string, names: readonly string[]): Record<string, string> {
  const out = `${iso}.x-${randomBytes(3).toString('hex')}`;
  try {
    sh('xorriso', ['-osirrox', 'on', '-indev', iso, '-extract', '/', out]);
    return Object.fromEntries(names.map((n) => [n, readFileSync(path.join(out, n), 'utf8')]));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** `virsh list --all --uuid --name` as name → uuid (exact names; `domuuid NAME` may answer for an id). */
export function uuidsByName(): Map<string, string> {
  return new Map(
    virsh('list', '--all', '--uuid', '--name')
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(37), l.slice(0, 36)] as [string, string]),
  );
}

/** Destroy + undefine domains by uuid (for domains a test made without its prefix). */
export function removeDomainsByUuid(uuids: Iterable<string>): void {
  for (const u of uuids) {
    virshMaybe('destroy', u);
    virshMaybe('undefine', u, '--snapshots-metadata');
  }
}

/**
 * A template made (unsealed) from a fresh source VM `${prefix}src`, whose one disk, outside
 * the storage dir, holds `pattern` in its first MiB.
 */
export async function patternTemplate(env: LibvirtTestEnv, host: HostDriver, pattern = 0x5a): Promise<TemplateInfo> {
  const src = env.vmName('src');
  const disk = createDisk(`${env.outsideDir}/src.qcow2`);
  writePattern(disk, pattern);
  defineVm(src, [disk]);
  return host.createTemplate({ vm: src, name: `${env.prefix}base`, seal: false });
}

/** One thin VM deployed from `template`; its name. */
export async function thinVm(host: HostDriver, template: string, name: string): Promise<string> {
  return (await host.deploy({ template, name, count: 1, mode: 'thin', start: false })).vms[0]!;
}

/** qemu-io write of a byte pattern (VM shut off). */
export function writePattern(file: string, pattern: number, offset = '0', length = '1M'): void {
  const out = sh('qemu-io', ['-c', `write -P 0x${pattern.toString(16)} ${offset} ${length}`, file]);
  if (!/wrote/.test(out)) throw new Error(`qemu-io write failed: ${out}`);
}

/** True when the range holds the pattern (qemu-io read -P). `-U` so it also works on a running VM's disk. */
export function hasPattern(file: string, pattern: number, offset = '0', length = '1M'): boolean {
  const r = spawnSync('qemu-io', ['-U', '-r', '-c', `read -P 0x${pattern.toString(16)} ${offset} ${length}`, file], { encoding: 'utf8' });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  if (/Pattern verification failed/.test(out)) return false;
  if (r.status !== 0 || !/read \d+\/\d+ bytes/.test(out)) throw new Error(`qemu-io read failed: ${out}`);
  return true;
}

export interface ChainInfo {
  filename: string;
  format: string;
  'backing-filename'?: string;
  'actual-size'?: number;
  'virtual-size': number;
}
/** qemu-img info --backing-chain, top first. */
export function chainOf(file: string): ChainInfo[] {
  return JSON.parse(sh('qemu-img', ['info', '-U', '--backing-chain', '--output=json', file])) as ChainInfo[];
}

/** Allocated bytes on the host (du). */
export function allocatedBytes(file: string): number {
  return Number(sh('du', ['-B1', file]).split(/\s+/)[0]);
}

export function domainXml(name: string, inactive = true): string {
  return inactive ? virsh('dumpxml', '--inactive', name) : virsh('dumpxml', name);
}
export function domainExists(name: string): boolean {
  return virshMaybe('domstate', name).ok;
}
export function domState(name: string): string {
  return virsh('domstate', name).trim();
}

/** `assert.rejects(p, hasCode('vm-running'))`: the error is a KvmopsError with that code. */
export const hasCode = (c: string) => (e: unknown) => isKvmopsError(e) && e.code === c;

/** Overwrites a qcow2 file's header: probing would now call it raw, with no backing file; its chain can't be read as qcow2. */
export function corruptHeader(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, Buffer.alloc(4096, 0xee), 0, 4096, 0);
  } finally {
    closeSync(fd);
  }
}
