/**
 * A real guest on a lab host (test/helpers/lab.ts): its source VM defined on the lab's libvirtd
 * from an overlay of the guest image, and libguestfs programs (guestfish, virt-customize) run
 * INSIDE the lab's namespaces, on the lab's files, with the supermin env file the lab sees (or
 * here, on this machine's files: `localGuestfs`).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_SUPERMIN_ENV, parseEnvFile } from '../../src/hypervisor/sysprep.js';
import type { Lab } from './lab.js';

const envFile = process.env.KVMOPS_SUPERMIN_ENV ?? DEFAULT_SUPERMIN_ENV;

/** Why libguestfs cannot run here (no virt-sysprep, no supermin env file), or false. Under CI=true never. */
export function guestfsSkipReason(): string | false {
  if (process.env.CI === 'true') return false;
  if (spawnSync('sh', ['-c', 'command -v virt-sysprep && command -v guestfish']).status !== 0) return 'libguestfs-tools missing: scripts/host-setup.sh --seal';
  if (!existsSync(envFile)) return `no ${envFile}: run scripts/host-setup.sh --seal`;
  return false;
}

/** The supermin env file's variables as `K=V` words for env(1). */
function guestfsVars(): string[] {
  return existsSync(envFile) ? Object.entries(parseEnvFile(readFileSync(envFile, 'utf8'))).map(([k, v]) => `${k}=${v}`) : [];
}

/** `program args…` inside the lab with the supermin env file's variables (through `env`). */
export function labGuestfs(lab: Lab, program: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return lab.exec('env', ...guestfsVars(), program, ...args);
}

/** `program args…` here with the supermin env file's variables; asserts success. */
export function localGuestfs(program: string, ...args: string[]): string {
  const r = spawnSync('env', [...guestfsVars(), program, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${program} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** `virsh -q -c LAB args…`; asserts success. */
export function labVirsh(lab: Lab, ...args: string[]): string {
  const r = spawnSync('virsh', ['-q', '-c', lab.uri, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `virsh ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * A shut-off TCG domain on the lab whose disk is `dir/<name>.qcow2` — an overlay of `backing`
 * (made inside the lab), or blank 64 MiB — with `nic` (XML, or none), a serial console log and
 * the guest agent's channel. `xmlDir`: a folder on this machine for the XML file.
 */
export function defineOnLab(lab: Lab, opts: { name: string; dir: string; xmlDir: string; backing?: string; nic?: string }): string {
  const { name, dir } = opts;
  const disk = `${dir}/${name}.qcow2`;
  const made = lab.exec('qemu-img', 'create', '-q', '-f', 'qcow2', ...(opts.backing ? ['-F', 'qcow2', '-b', opts.backing, disk] : [disk, '64M']));
  assert.equal(made.status, 0, made.stderr);
  const xml = path.join(opts.xmlDir, `${name}.xml`);
  writeFileSync(
    xml,
    `<domain type='qemu'><name>${name}</name><memory unit='MiB'>768</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type><boot dev='hd'/></os><features><acpi/></features><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vda' bus='virtio'/></disk>
${opts.nic ?? ''}
<serial type='file'><source path='${dir}/${name}.console.log'/><target port='0'/></serial>
<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
</devices></domain>`,
  );
  labVirsh(lab, 'define', xml);
  return disk;
}
