/**
 * Sealing with virt-sysprep. The real run needs `scripts/host-setup.sh --seal` (libguestfs and an
 * appliance kernel, recorded in the supermin env file); under CI=true it must run. The error
 * path (appliance kernel missing) always runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { LibvirtHost } from '../../src/hypervisor/host.js';
import { DEFAULT_SUPERMIN_ENV } from '../../src/hypervisor/sysprep.js';
import { defineVm, makeTestEnv, skipUnlessLibvirt, hasCode, type LibvirtTestEnv } from '../helpers/libvirt.js';

const skip = skipUnlessLibvirt();
const code = hasCode;
const envFile = process.env.KVMOPS_SUPERMIN_ENV ?? DEFAULT_SUPERMIN_ENV;
const sealReady = existsSync(envFile) && spawnSync('sh', ['-c', 'command -v virt-sysprep']).status === 0;
const realSkip =
  skip.skip || (!sealReady && process.env.CI !== 'true' ? `no ${envFile}: run scripts/host-setup.sh --seal` : false);

function run(program: string, args: string[]): string {
  const r = spawnSync(program, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${program} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/**
 * A tiny Debian-looking disk (no partition table, ext4): enough for virt-sysprep's inspection,
 * which wants /etc, /bin and /etc/fstab for a Linux root, plus os-release and dpkg's status.
 */
function makeGuestDisk(dir: string, qcow2: string): void {
  const root = `${dir}/root`;
  for (const d of ['etc', 'bin', 'usr/bin', 'var/lib/dpkg', 'var/log']) mkdirSync(`${root}/${d}`, { recursive: true });
  writeFileSync(`${root}/etc/os-release`, 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n');
  writeFileSync(`${root}/etc/debian_version`, '12.0\n');
  writeFileSync(`${root}/etc/fstab`, '/dev/sda / ext4 defaults 0 1\n');
  writeFileSync(`${root}/etc/hostname`, 'golden\n');
  writeFileSync(`${root}/etc/machine-id`, '0123456789abcdef0123456789abcdef\n');
  writeFileSync(`${root}/var/lib/dpkg/status`, 'Package: base-files\nStatus: install ok installed\nVersion: 12.4\nArchitecture: amd64\n\n');
  writeFileSync(`${root}/var/log/kvmops-test.log`, 'hello\n');
  // what a booted guest carries of its own: cloud-init's instance state, SSH host keys
  mkdirSync(`${root}/var/lib/cloud/instances/iid-golden`, { recursive: true });
  writeFileSync(`${root}/var/lib/cloud/instances/iid-golden/obj.pkl`, 'state\n');
  mkdirSync(`${root}/etc/ssh`, { recursive: true });
  writeFileSync(`${root}/etc/ssh/ssh_host_ed25519_key.pub`, 'ssh-ed25519 AAAAgolden root@golden\n');
  const raw = `${dir}/disk.raw`;
  run('truncate', ['-s', '64M', raw]);
  run('mkfs.ext4', ['-q', '-F', '-d', root, raw]);
  run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  rmSync(raw);
}

/** Read a file from an ext4 qcow2 without booting anything: convert to raw, debugfs. */
function catFromDisk(qcow2: string, file: string, scratch: string): string {
  const raw = `${scratch}/read.raw`;
  run('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', 'raw', qcow2, raw]);
  try {
    return spawnSync('debugfs', ['-R', `cat ${file}`, raw], { encoding: 'utf8' }).stdout;
  } finally {
    rmSync(raw);
  }
}

describe('template sealing (real virt-sysprep)', { skip: realSkip }, () => {
  let env: LibvirtTestEnv;
  let host: LibvirtHost;
  before(() => {
    env = makeTestEnv('seal');
    host = new LibvirtHost({ name: 'local', uri: 'qemu:///system' }, { storageDir: env.storageDir });
  });
  after(() => env?.cleanup());

  it('wipes machine state in the template, never in the source VM', { timeout: 300_000 }, async () => {
    const vm = env.vmName('gold');
    const disk = `${env.outsideDir}/gold.qcow2`;
    makeGuestDisk(env.outsideDir, disk);
    assert.match(catFromDisk(disk, '/etc/machine-id', env.outsideDir), /0123456789abcdef/);
    defineVm(vm, [disk]);
    const steps: string[] = [];
    const t = await host.createTemplate({ vm, name: `${env.prefix}sealed`, seal: true }, { onProgress: (p) => steps.push(p.step) });
    assert.equal(t.sealed, true);
    // a tiny Debian-like root (no partition table: ext4 on the whole disk) is inspected; it has no cloud-init program
    assert.equal(t.cloudInit, 'no');
    assert.ok(steps.some((s) => s.startsWith('sealing')));
    const file = t.disks[0]!.file;
    assert.equal(statSync(file).mode & 0o777, 0o444);
    // the template's machine-id is EMPTY (not a new random one that every clone would share):
    // systemd makes one at each VM's first boot
    assert.equal(catFromDisk(file, '/etc/machine-id', env.outsideDir), '');
    assert.equal(spawnSync('sh', ['-c', `qemu-img convert -U -f qcow2 -O raw ${file} ${env.outsideDir}/t.raw && debugfs -R 'stat /etc/machine-id' ${env.outsideDir}/t.raw`], { encoding: 'utf8' }).stdout.includes('Size: 0'), true, 'the file is there, empty');
    rmSync(`${env.outsideDir}/t.raw`, { force: true });
    // no cloud-init instance state and no host keys; the drop-in that makes new keys before sshd
    assert.equal(catFromDisk(file, '/var/lib/cloud/instances/iid-golden/obj.pkl', env.outsideDir), '');
    assert.equal(catFromDisk(file, '/etc/ssh/ssh_host_ed25519_key.pub', env.outsideDir), '');
    assert.equal(catFromDisk(file, '/etc/systemd/system/ssh.service.d/kvmops-host-keys.conf', env.outsideDir), '[Service]\nExecStartPre=-/usr/bin/ssh-keygen -A\n');
    // and the source VM keeps all of it
    assert.match(catFromDisk(disk, '/etc/machine-id', env.outsideDir), /0123456789abcdef/);
    assert.match(catFromDisk(disk, '/var/lib/cloud/instances/iid-golden/obj.pkl', env.outsideDir), /state/);
    assert.equal((await host.listTemplates())[0]!.sealed, true);
  });
});

describe('template sealing: clear error when the appliance kernel is missing', skip, () => {
  let env: LibvirtTestEnv;
  before(() => {
    env = makeTestEnv('nok');
  });
  after(() => env?.cleanup());

  it('sysprep-unavailable names the kernel and suggests seal:false; nothing is copied', async () => {
    const fake = `${env.outsideDir}/supermin.env`;
    writeFileSync(fake, `export SUPERMIN_KERNEL=${env.outsideDir}/no-such-vmlinuz\nexport LIBGUESTFS_BACKEND=direct\n`);
    const host = new LibvirtHost(
      { name: 'local', uri: 'qemu:///system' },
      // `program: 'true'` stands in for an installed virt-sysprep, so the kernel check is what fails
      { storageDir: env.storageDir, sysprep: { envFile: fake, program: 'true' } },
    );
    const vm = env.vmName('x');
    defineVm(vm, []);
    await assert.rejects(host.createTemplate({ vm, name: `${env.prefix}t`, seal: true }), (e: unknown) => {
      assert.ok(code('sysprep-unavailable')(e));
      assert.match((e as Error).message, /kernel/);
      assert.match((e as Error).message, /no-such-vmlinuz/);
      assert.match((e as Error).message, /seal:false/);
      return true;
    });
    assert.equal(existsSync(env.storage.templatesDir), false, 'refused before anything was made');
  });

  it('sysprep-unavailable names virt-sysprep when it is not installed', async () => {
    const host = new LibvirtHost(
      { name: 'local', uri: 'qemu:///system' },
      { storageDir: env.storageDir, sysprep: { program: 'kvmops-no-such-virt-sysprep' } },
    );
    await assert.rejects(host.createTemplate({ vm: env.vmName('x'), name: `${env.prefix}t`, seal: true }), (e: unknown) => {
      assert.ok(code('sysprep-unavailable')(e));
      assert.match((e as Error).message, /kvmops-no-such-virt-sysprep is not installed/);
      assert.match((e as Error).message, /seal:false/);
      return true;
    });
  });
});
